//! Each dataset layout's reader and detection on small folders made here (file contents do
//! not matter to the readers): labels, cameras, and a clear error naming the file or line for
//! every kind of bad input.

use reid_config::{DataSource, DatasetLayout};
use reid_data::ImageSet;
use reid_data::dataset::detect;
use std::path::Path;

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"x").unwrap();
}

fn read(path: &Path) -> Result<ImageSet, String> {
    let source = DataSource {
        path: path.to_owned(),
        layout: None,
    };
    ImageSet::read(&source).map_err(|e| e.to_string())
}

fn labels(set: &ImageSet) -> Vec<(i32, Option<u32>)> {
    set.items.iter().map(|r| (r.pid, r.camid)).collect()
}

#[test]
fn folders_with_and_without_camera_folders() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("a/7/x.jpg"));
    touch(&dir.path().join("a/12/y.png"));
    let set = read(&dir.path().join("a")).unwrap();
    assert_eq!((set.layout, set.detected), (DatasetLayout::Folders, true));
    assert_eq!(labels(&set), [(12, None), (7, None)]);
    assert!(!set.has_cameras());
    assert!(
        set.describe().contains("no camera ids"),
        "{}",
        set.describe()
    );
    touch(&dir.path().join("b/7/c2/x.jpg"));
    touch(&dir.path().join("b/7/cam10/y.jpg"));
    touch(&dir.path().join("b/8/3/z.jpg"));
    let set = read(&dir.path().join("b")).unwrap();
    assert_eq!(labels(&set), [(7, Some(2)), (7, Some(10)), (8, Some(3))]);
}

#[test]
fn bad_folders_are_errors_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(&root.join("named/alice/x.jpg"));
    let err = ImageSet::read_as(&root.join("named"), DatasetLayout::Folders).unwrap_err();
    assert!(
        err.to_string()
            .contains("`alice` is not a numeric person id"),
        "{err}"
    );
    touch(&root.join("mixed/3/x.jpg"));
    touch(&root.join("mixed/3/c1/y.jpg"));
    let err = read(&root.join("mixed")).unwrap_err();
    assert!(err.contains("mixes images with camera folders"), "{err}");
    touch(&root.join("loose/3/x.jpg"));
    touch(&root.join("loose/0001_c1s1_000001_00.jpg"));
    let err = read(&root.join("loose")).unwrap_err();
    assert!(err.contains("mixed layouts"), "{err}");
    touch(&root.join("cams/3/front/x.jpg"));
    let err = read(&root.join("cams")).unwrap_err();
    assert!(err.contains("camera folder `front`"), "{err}");
}

#[test]
fn market_and_duke_names_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("m/0001_c1s1_000001_00.jpg"));
    touch(&dir.path().join("m/0002_c3s2_000001_00.jpg"));
    touch(&dir.path().join("d/0001_c1_f0000001.jpg"));
    touch(&dir.path().join("d/0000_c8_f0000002.jpg"));
    let m = read(&dir.path().join("m")).unwrap();
    assert_eq!(m.layout, DatasetLayout::Market);
    assert_eq!(labels(&m), [(1, Some(1)), (2, Some(3))]);
    let d = read(&dir.path().join("d")).unwrap();
    assert_eq!(d.layout, DatasetLayout::Duke);
    assert!(d.is_distractor(&d.items[0]), "pid 0 is a distractor");
    touch(&dir.path().join("x/holiday.jpg"));
    let err = read(&dir.path().join("x")).unwrap_err();
    assert!(err.contains("set dataset.layout"), "{err}");
}

#[test]
fn msmt17_lists_resolve_train_and_test_folders_and_name_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(&root.join("test/0000/0000_000_01_0303morning_0015_0.jpg"));
    touch(&root.join("test/0001/0001_004_14_0303noon_0015_1.jpg"));
    let list = root.join("list_query.txt");
    std::fs::write(
        &list,
        "0000/0000_000_01_0303morning_0015_0.jpg 0\n0001/0001_004_14_0303noon_0015_1.jpg 1\n",
    )
    .unwrap();
    let set = read(&list).unwrap();
    assert_eq!(set.layout, DatasetLayout::Msmt17);
    assert_eq!(labels(&set), [(0, Some(1)), (1, Some(14))]);
    assert!(
        !set.is_distractor(&set.items[0]),
        "pid 0 is a person in MSMT17"
    );
    std::fs::write(
        &list,
        "0000/0000_000_01_0303morning_0015_0.jpg 0\n0001/gone.jpg 1\n",
    )
    .unwrap();
    let err = read(&list).unwrap_err();
    assert!(
        err.contains("list_query.txt, line 2") && err.contains("gone.jpg"),
        "{err}"
    );
    std::fs::write(&list, "0000/0000_000_01_0303morning_0015_0.jpg zero\n").unwrap();
    let err = read(&list).unwrap_err();
    assert!(
        err.contains("line 1") && err.contains("`zero` is not a number"),
        "{err}"
    );
}

#[test]
fn csv_files_with_and_without_cameras_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(&root.join("img/a.jpg"));
    touch(&root.join("img/b.jpg"));
    let csv = root.join("set.csv");
    std::fs::write(&csv, "path,pid,camid\nimg/a.jpg,5,2\nimg/b.jpg,6,\n").unwrap();
    let set = read(&csv).unwrap();
    assert_eq!(set.layout, DatasetLayout::Csv);
    assert_eq!(labels(&set), [(5, Some(2)), (6, None)]);
    std::fs::write(&csv, "pid,path\n5,img/a.jpg\n").unwrap();
    assert_eq!(labels(&read(&csv).unwrap()), [(5, None)]);
    for (text, expected) in [
        ("file,id\nimg/a.jpg,5\n", "must name `path` and `pid`"),
        ("path,pid\nimg/a.jpg,5\nimg/c.jpg,6\n", "line 3: image"),
        (
            "path,pid\nimg/a.jpg,five\n",
            "line 2: person id `five` is not a number",
        ),
        ("path,pid,camid\nimg/a.jpg,5,front\n", "camera id `front`"),
        ("path,pid\n", "no usable images"),
    ] {
        std::fs::write(&csv, text).unwrap();
        let err = read(&csv).unwrap_err();
        assert!(
            err.contains(expected) && err.contains("set.csv"),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn a_set_layout_is_used_as_given_and_unknown_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("s/0001_c1s1_000001_00.jpg"));
    let source = DataSource {
        path: dir.path().join("s"),
        layout: Some(DatasetLayout::Duke),
    };
    let set = ImageSet::read(&source).unwrap();
    assert_eq!((set.layout, set.detected), (DatasetLayout::Duke, false));
    let file = dir.path().join("s.json");
    touch(&file);
    let err = detect(&file).unwrap_err().to_string();
    assert!(
        err.contains("neither a .csv nor an MSMT17 .txt list"),
        "{err}"
    );
}
