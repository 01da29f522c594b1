//! Person detectors through ONNX Runtime, told apart by their output layout: a YOLOv8-style
//! graph (the bundled stand-in fixture, `assets/models/fixtures/`) decodes, scales back to the
//! frame and suppresses duplicates; a graph that is no detector is a clear error.

use image::RgbImage;
use reid_modeling::{BBox, Detector};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn a_yolo_style_detector_finds_the_person_in_frame_pixels() {
    let fixture = repo().join("assets/models/fixtures/yolo_columns_fixture.onnx");
    let mut det = Detector::open(&fixture, 1).unwrap();
    // A 128×256 frame: the 64×64 input's x scales by 2, y by 4.
    let frame = RgbImage::from_pixel(128, 256, image::Rgb([90, 120, 150]));
    let found = det.detect(&frame, 0.5).unwrap();
    assert_eq!(
        found.len(),
        1,
        "the duplicate is suppressed, the car is no person"
    );
    assert!((found[0].score - 0.9).abs() < 1e-6);
    assert_eq!(
        found[0].bbox,
        BBox {
            x1: 48.0,
            y1: 32.0,
            x2: 80.0,
            y2: 160.0
        }
    );
    assert!(det.detect(&frame, 0.95).unwrap().is_empty());
}

#[test]
fn a_graph_that_is_no_detector_is_refused_with_the_supported_layouts() {
    let reid = repo().join("assets/models/person-reidentification-retail-0267-eps.onnx");
    let err = Detector::open(&reid, 1).err().unwrap().to_string();
    assert!(err.contains("YOLOv8-style columns"), "{err}");
}
