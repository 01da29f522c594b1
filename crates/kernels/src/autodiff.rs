//! The autodiff side of [`TrainKernels`]: records each operation and, in the backward pass,
//! asks the inner backend for the gradients.

use crate::{Activation, TrainKernels};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, Backend};

#[derive(Debug)]
struct Conv2dBackward;

impl<B: Backend + TrainKernels> Backward<B, 2> for Conv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(x_state);
        let weight = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(weight_state);
        if let Some(node) = node_x {
            let dx =
                B::reid_conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone());
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            let dw = B::reid_conv2d_weight_backward(x, weight, grad, options);
            grads.register::<B>(node.id, dw);
        }
    }
}

/// A tensor of the autodiff backend.
type Tracked<B, C> = FloatTensor<Autodiff<B, C>>;

/// Batch normalisation + activation, with `N = 4` parents when a residual is added.
#[derive(Debug)]
struct BatchNormBackward<const N: usize>;

/// What the backward pass of a batch normalisation keeps: the input and gamma checkpointed,
/// the batch statistics as the forward computed them, and the output when an activation masks
/// the gradient.
#[derive(Debug, Clone)]
struct BatchNormState<T> {
    x: NodeId,
    gamma: NodeId,
    mean: T,
    variance: T,
    output: Option<T>,
    epsilon: f64,
    act: Activation,
}

impl<B: Backend + TrainKernels, const N: usize> Backward<B, N> for BatchNormBackward<N> {
    type State = BatchNormState<B::FloatTensorPrimitive>;

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<B>(&ops.node);
        let state = ops.state;
        let x = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(state.x);
        let gamma = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(state.gamma);
        // Without an activation the output is not needed: the gradient stands in for it.
        let output = state.output.unwrap_or_else(|| grad.clone());
        let residual = ops.parents.get(3).is_some_and(Option::is_some);
        let (dx, dgamma, dbeta, dresidual) = B::reid_batch_norm_train_backward(
            x,
            gamma,
            state.mean,
            state.variance,
            output,
            state.epsilon,
            state.act,
            residual,
            grad,
        );
        let grads_of = [Some(dx), Some(dgamma), Some(dbeta), dresidual];
        for (node, g) in ops.parents.into_iter().zip(grads_of) {
            if let (Some(node), Some(g)) = (node, g) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// Records a batch normalisation over `N` parents (input, gamma, beta[, residual]) and runs it;
/// the batch statistics come back untracked.
fn batch_norm_tracked<B, C, const N: usize>(
    nodes: [NodeGuard; N],
    [x, gamma, beta]: [Tracked<B, C>; 3],
    residual: Option<Tracked<B, C>>,
    epsilon: f64,
    act: Activation,
) -> (Tracked<B, C>, Tracked<B, C>, Tracked<B, C>)
where
    B: Backend + TrainKernels,
    C: CheckpointStrategy,
{
    let untracked = |t| <Autodiff<B, C> as AutodiffBackend>::from_inner(t);
    let run = |x: Tracked<B, C>, gamma: Tracked<B, C>, beta: Tracked<B, C>| {
        let (x, gamma, beta) = (
            x.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
        );
        match residual {
            Some(r) => {
                B::reid_batch_norm_add_train(x, gamma, beta, r.into_primitive(), epsilon, act)
            }
            None => B::reid_batch_norm_train(x, gamma, beta, epsilon, act),
        }
    };
    match BatchNormBackward::<N>
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let gamma_state = prep.checkpoint(&gamma);
            let (y, mean, variance) = run(x, gamma, beta);
            let state = BatchNormState {
                x: x_state,
                gamma: gamma_state,
                mean: mean.clone(),
                variance: variance.clone(),
                output: (act != Activation::None).then(|| y.clone()),
                epsilon,
                act,
            };
            (prep.finish(state, y), untracked(mean), untracked(variance))
        }
        OpsKind::UnTracked(prep) => {
            let (y, mean, variance) = run(x, gamma, beta);
            (prep.finish(y), untracked(mean), untracked(variance))
        }
    }
}

impl<B: Backend + TrainKernels, C: CheckpointStrategy> TrainKernels for Autodiff<B, C> {
    fn reid_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let y =
                    B::reid_conv2d(x.into_primitive(), weight.into_primitive(), options.clone());
                prep.finish((x_state, weight_state, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::reid_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }

    fn reid_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        act: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let nodes = [x.node(), gamma.node(), beta.node()];
        batch_norm_tracked::<B, C, 3>(nodes, [x, gamma, beta], None, epsilon, act)
    }

    fn reid_batch_norm_add_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
        act: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let nodes = [x.node(), gamma.node(), beta.node(), residual.node()];
        batch_norm_tracked::<B, C, 4>(nodes, [x, gamma, beta], Some(residual), epsilon, act)
    }
}
