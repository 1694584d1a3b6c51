//! Pack validation, one fault at a time, on the real ONNX Runtime (CPU): each test copies a good pack into a
//! temporary folder, breaks one thing (a path that leaves the folder, an oversize file, a wrong digest or version,
//! a missing role, a shape the model does not have, a free dimension bound twice) and checks that loading fails
//! with the matching `PackError` whose sentence names the pack folder and the file, field or tensor at fault.

#[path = "support/face_common.rs"]
mod face_common;
#[path = "support/packs.rs"]
mod support;

use living_portrait::json::Json;
use living_portrait::inference::Device;
use living_portrait::packs::{self, PackError, PackKind, MAX_MANIFEST_BYTES, MAX_PACK_MODEL_BYTES};
use support::*;

/// Loads a pack expecting an error; returns it with its sentence, which must name the folder.
fn load_err(dir: &std::path::Path) -> (PackError, String) {
    runtime();
    let err = packs::load_pack(dir, Device::Cpu).expect_err("the pack should be refused");
    let text = err.to_string();
    assert!(text.contains(&dir.display().to_string()), "the message names the folder: {text}");
    assert!(text.ends_with('.') && !text.contains('\n'), "one sentence: {text}");
    (err, text)
}

#[test]
fn good_packs_load() {
    runtime();
    let warp = packs::load_pack(&builtin_warp(), Device::Cpu).unwrap();
    assert_eq!(warp.manifest.kind, PackKind::Warp);
    assert!(!warp.manifest.test_only);
    assert_eq!(warp.bindings.size, None, "the built-in warp takes any crop side");
    let fewshot = packs::load_pack(&fewshot_test(), Device::Cpu).unwrap();
    assert_eq!(fewshot.manifest.kind, PackKind::FewShot);
    assert!(fewshot.manifest.test_only);
    assert_eq!(fewshot.bindings.size, Some(256));
    assert_eq!(fewshot.bindings.embedding, Some(64));
    assert_eq!(fewshot.bindings.references, None);
    // A copy elsewhere is a pack of its own and loads too.
    let copy = copy_pack(&fewshot_test(), "good");
    let copied = packs::load_pack(copy.path(), Device::Cpu).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&copied, &fewshot));
    // The cache: the same folder, named another way, gives the same pack.
    let again = packs::load_pack(&fewshot_test().join("."), Device::Cpu).unwrap();
    assert!(std::sync::Arc::ptr_eq(&again, &fewshot));
}

#[test]
fn parent_dir_path_is_refused() {
    let dir = copy_pack(&fewshot_test(), "dotdot");
    edit_manifest(dir.path(), |m| set(m, &["generator", "file"], Json::String("../generator.onnx".into())));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::UnsafePath { .. }), "{text}");
    assert!(
        text.contains("'generator.file'") && text.contains("\"../generator.onnx\"") && text.contains(".."),
        "{text}"
    );
}

#[test]
fn absolute_path_is_refused() {
    let dir = copy_pack(&fewshot_test(), "absolute");
    // Even the pack's own file, named by absolute path, is refused: a manifest must not point anywhere by itself.
    let absolute = dir.path().join("embedder.onnx").display().to_string();
    edit_manifest(dir.path(), |m| set(m, &["embedder", "file"], Json::String(absolute.clone())));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::UnsafePath { .. }), "{text}");
    assert!(text.contains("'embedder.file'") && text.contains("absolute"), "{text}");
}

#[test]
fn odd_names_are_refused() {
    for (name, why) in [("./generator.onnx", "\".\""), ("sub\\generator.onnx", "backslash"), ("", "empty")] {
        let dir = copy_pack(&fewshot_test(), "odd");
        edit_manifest(dir.path(), |m| set(m, &["generator", "file"], Json::String(name.into())));
        let (err, text) = load_err(dir.path());
        assert!(matches!(err, PackError::UnsafePath { .. }), "{name}: {text}");
        assert!(text.contains(why), "{name}: {text}");
    }
}

#[test]
fn symlink_out_of_the_folder_is_refused() {
    let dir = copy_pack(&fewshot_test(), "symlink-out");
    std::fs::remove_file(dir.path().join("generator.onnx")).unwrap();
    // The very same bytes, but outside the pack.
    std::os::unix::fs::symlink(fewshot_test().join("generator.onnx"), dir.path().join("generator.onnx")).unwrap();
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::UnsafePath { .. }), "{text}");
    assert!(text.contains("outside the pack folder") && text.contains("generator.onnx"), "{text}");

    // A symlinked manifest pointing out is refused the same way.
    let dir = copy_pack(&fewshot_test(), "symlink-manifest");
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    std::os::unix::fs::symlink(fewshot_test().join("manifest.json"), dir.path().join("manifest.json")).unwrap();
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::UnsafePath { .. }), "{text}");
}

#[test]
fn symlink_inside_the_folder_is_followed() {
    let dir = copy_pack(&fewshot_test(), "symlink-in");
    std::fs::create_dir(dir.path().join("weights")).unwrap();
    std::fs::rename(dir.path().join("generator.onnx"), dir.path().join("weights/generator.onnx")).unwrap();
    std::os::unix::fs::symlink("weights/generator.onnx", dir.path().join("generator.onnx")).unwrap();
    runtime();
    packs::load_pack(dir.path(), Device::Cpu).unwrap();
    // And a relative path into a subfolder is a plain relative path.
    let dir2 = copy_pack(&fewshot_test(), "subfolder");
    std::fs::create_dir(dir2.path().join("weights")).unwrap();
    std::fs::rename(dir2.path().join("embedder.onnx"), dir2.path().join("weights/embedder.onnx")).unwrap();
    edit_manifest(dir2.path(), |m| set(m, &["embedder", "file"], Json::String("weights/embedder.onnx".into())));
    packs::load_pack(dir2.path(), Device::Cpu).unwrap();
}

#[test]
fn oversize_model_is_refused_before_reading() {
    let dir = copy_pack(&fewshot_test(), "oversize");
    // A sparse file: the size is what counts, and it is checked before a byte is read.
    let big = std::fs::File::create(dir.path().join("big.onnx")).unwrap();
    big.set_len(MAX_PACK_MODEL_BYTES + 1).unwrap();
    edit_manifest(dir.path(), |m| {
        set(m, &["generator", "file"], Json::String("big.onnx".into()));
        remove(m, &["generator", "bytes"]);
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::TooLarge { .. }), "{text}");
    assert!(text.contains("big.onnx") && text.contains(&(MAX_PACK_MODEL_BYTES + 1).to_string()), "{text}");
}

#[test]
fn oversize_manifest_is_refused() {
    let dir = copy_pack(&fewshot_test(), "oversize-manifest");
    let text = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    let padded = format!("{text}{}", " ".repeat(MAX_MANIFEST_BYTES as usize));
    std::fs::write(dir.path().join("manifest.json"), padded).unwrap();
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::TooLarge { .. }), "{text}");
    assert!(text.contains("manifest.json"), "{text}");
}

#[test]
fn wrong_digest_is_refused() {
    let dir = copy_pack(&fewshot_test(), "sha");
    let mut wrong = String::new();
    edit_manifest(dir.path(), |m| {
        let sha = member(m, &["embedder", "sha256"]);
        let old = sha.as_str().unwrap().to_string();
        wrong = format!("{}{}", if old.starts_with('0') { "1" } else { "0" }, &old[1..]);
        *sha = Json::String(wrong.clone());
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Checksum { .. }), "{text}");
    assert!(text.contains("embedder.onnx") && text.contains("'embedder.sha256'") && text.contains(&wrong), "{text}");

    // A file changed after the manifest was written (same size) is caught the same way.
    let dir = copy_pack(&fewshot_test(), "sha-file");
    let path = dir.path().join("generator.onnx");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Checksum { .. } | PackError::Inference { .. }), "{text}");
    assert!(text.contains("generator.onnx"), "{text}");

    // A digest that is not one.
    let dir = copy_pack(&fewshot_test(), "sha-form");
    edit_manifest(dir.path(), |m| set(m, &["generator", "sha256"], Json::String("abc".into())));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }) && text.contains("'generator.sha256'"), "{text}");
}

#[test]
fn wrong_size_field_is_refused() {
    let dir = copy_pack(&fewshot_test(), "bytes");
    edit_manifest(dir.path(), |m| set(m, &["generator", "bytes"], Json::Number(12.0)));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("'generator.bytes'") && text.contains("generator.onnx"), "{text}");
}

#[test]
fn wrong_format_version_and_kind_are_refused() {
    let cases: [(&str, Json, &str); 5] = [
        ("version", Json::Number(3.0), "versions 1 to 2 only"),
        ("version", Json::String("1".into()), "not a whole number"),
        ("format", Json::String("onnx-pack".into()), "\"living-portrait-pack\""),
        ("kind", Json::String("diffusion".into()), "\"warp\", \"fewshot\" or \"liveportrait\""),
        ("name", Json::Number(3.0), "not a string"),
    ];
    for (field, value, says) in cases {
        let dir = copy_pack(&fewshot_test(), "fields");
        edit_manifest(dir.path(), |m| set(m, &[field], value.clone()));
        let (err, text) = load_err(dir.path());
        assert!(matches!(err, PackError::Manifest { .. }), "{field}: {text}");
        assert!(text.contains(&format!("'{field}'")) && text.contains(says), "{field}: {text}");
    }
    let dir = copy_pack(&fewshot_test(), "no-version");
    edit_manifest(dir.path(), |m| remove(m, &["version"]));
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'version'") && text.contains("missing"), "{text}");
}

#[test]
fn missing_role_is_refused() {
    let dir = copy_pack(&fewshot_test(), "role");
    edit_manifest(dir.path(), |m| remove(m, &["embedder"]));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("'embedder'") && text.contains("missing") && text.contains("fewshot"), "{text}");

    // A warp manifest turned into a few-shot one lacks the embedder too.
    let dir = copy_pack(&builtin_warp(), "role-kind");
    edit_manifest(dir.path(), |m| set(m, &["kind"], Json::String("fewshot".into())));
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'embedder'"), "{text}");
}

#[test]
fn missing_folder_and_manifest_are_named() {
    let dir = TempDir::new("empty").expect("a temporary folder");
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Unreadable { .. }) && text.contains("manifest.json"), "{text}");
    let gone = dir.path().join("nothing-here");
    let (err, text) = load_err(&gone);
    assert!(matches!(err, PackError::Unreadable { .. }) && text.contains("does not exist"), "{text}");
    let dir = copy_pack(&fewshot_test(), "not-json");
    std::fs::write(dir.path().join("manifest.json"), "{\"format\": ").unwrap();
    let (_, text) = load_err(dir.path());
    assert!(text.contains("not valid JSON") && text.contains("line 1"), "{text}");
    let dir = copy_pack(&fewshot_test(), "model-missing");
    std::fs::remove_file(dir.path().join("embedder.onnx")).unwrap();
    let (_, text) = load_err(dir.path());
    assert!(text.contains("embedder.onnx does not exist"), "{text}");
}

#[test]
fn tensor_shape_mismatch_names_the_tensor() {
    let dir = copy_pack(&fewshot_test(), "shape");
    edit_manifest(dir.path(), |m| set(m, &["generator", "inputs", "sketch"], shape(&["1", "3", "128", "128"])));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Tensor { .. }), "{text}");
    assert!(text.contains("'sketch'") && text.contains("generator.onnx"), "{text}");
    assert!(text.contains("[1, 3, 128, 128]") && text.contains("[1, 3, 256, 256]"), "expected and actual: {text}");
}

#[test]
fn tensor_missing_from_the_model_or_the_contract_is_named() {
    // The manifest renames a tensor: the contract does not know it.
    let dir = copy_pack(&fewshot_test(), "rename");
    edit_manifest(dir.path(), |m| {
        remove(m, &["generator", "inputs", "sketch"]);
        set(m, &["generator", "inputs", "landmark_image"], shape(&["1", "3", "256", "256"]));
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("landmark_image"), "{text}");
    // A channel count the role does not have.
    let dir = copy_pack(&fewshot_test(), "channels");
    edit_manifest(dir.path(), |m| set(m, &["embedder", "inputs", "reference"], shape(&["K", "3", "256", "256"])));
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'embedder.inputs.reference'") && text.contains("dimension 1"), "{text}");
    // A symbol the contract does not have at that place.
    let dir = copy_pack(&fewshot_test(), "symbol-name");
    edit_manifest(dir.path(), |m| set(m, &["generator", "inputs", "sketch"], shape(&["1", "3", "H", "W"])));
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'generator.inputs.sketch'") && text.contains("\"H\""), "{text}");
}

#[test]
fn free_dimension_bound_twice_is_refused() {
    // The built-in warp's model leaves S free, so only the manifest binds it: 256 in, 512 out.
    let dir = copy_pack(&builtin_warp(), "symbol");
    edit_manifest(dir.path(), |m| {
        set(m, &["generator", "inputs", "source"], shape(&["1", "3", "256", "256"]));
        set(m, &["generator", "outputs", "grid"], shape(&["1", "4", "512", "512"]));
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Symbol { .. }), "{text}");
    assert!(
        text.contains("'grid'") && text.contains("\"S\"") && text.contains("512") && text.contains("256"),
        "{text}"
    );

    // A model fixed to 64 px against a manifest that lists other sides.
    let dir = copy_pack(&test_pack("identity_warp64"), "resolutions");
    edit_manifest(dir.path(), |m| set(m, &["resolutions"], shape(&["128"])));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("'resolutions'") && text.contains("64"), "{text}");

    // K bounds that exclude what the model fixes.
    let dir = copy_pack(&test_pack("mean_fewshot_k1"), "k-bounds");
    edit_manifest(dir.path(), |m| set(m, &["dims", "K", "min"], Json::Number(2.0)));
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'dims.K'") && text.contains("fixes \"K\" to 1"), "{text}");
}

#[test]
fn unknown_dims_and_checked_tags_are_refused() {
    let dir = copy_pack(&fewshot_test(), "dims-typo");
    edit_manifest(dir.path(), |m| {
        let dims = member(m, &["dims"]);
        let Json::Object(members) = dims else { panic!() };
        members.push(("Q".into(), Json::Object(vec![("min".into(), Json::Number(1.0))])));
    });
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'dims.Q'"), "{text}");
    for (field, value) in [("landmarks", "mediapipe468"), ("sketch", "heatmaps"), ("coordinates", "pixels")] {
        let dir = copy_pack(&fewshot_test(), "tags");
        edit_manifest(dir.path(), |m| set(m, &[field], Json::String(value.into())));
        let (err, text) = load_err(dir.path());
        assert!(matches!(err, PackError::Manifest { .. }) && text.contains(&format!("'{field}'")), "{text}");
    }
    // Notes the reader does not know are ignored.
    let dir = copy_pack(&fewshot_test(), "notes");
    edit_manifest(dir.path(), |m| set(m, &["notes"], Json::String("trained on nothing".into())));
    runtime();
    packs::load_pack(dir.path(), Device::Cpu).unwrap();
}

#[test]
fn roles_under_models_get_a_hint() {
    let dir = copy_pack(&builtin_warp(), "models-layout");
    edit_manifest(dir.path(), |m| {
        let generator = member(m, &["generator"]).clone();
        remove(m, &["generator"]);
        set(m, &["models"], Json::Object(vec![("generator".into(), generator)]));
    });
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'generator'") && text.contains("top-level"), "{text}");
}

#[test]
fn a_failed_load_is_not_remembered() {
    let dir = copy_pack(&fewshot_test(), "retry");
    let good = std::fs::read(dir.path().join("manifest.json")).unwrap();
    edit_manifest(dir.path(), |m| set(m, &["version"], Json::Number(7.0)));
    load_err(dir.path());
    std::fs::write(dir.path().join("manifest.json"), good).unwrap();
    packs::load_pack(dir.path(), Device::Cpu).expect("the repaired pack loads");
}

#[test]
fn an_embedder_fixed_to_several_references_is_refused() {
    // The model leaves K free; the manifest fixes it to 2, which the generator cannot honour with 1 to 32 stills.
    let dir = copy_pack(&test_pack("mean_fewshot"), "k-fixed");
    edit_manifest(dir.path(), |m| {
        set(m, &["embedder", "inputs", "reference"], shape(&["2", "6", "64", "64"]));
        remove(m, &["dims"]);
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Unsupported { .. }), "{text}");
    assert!(text.contains("embedder.onnx") && text.contains("\"K\" to 2"), "{text}");
}

#[test]
fn a_warp_pack_declares_one_output_set() {
    // The built-in warp returns a resampling (grid, overlay, changed).
    runtime();
    let pack = packs::load_pack(&builtin_warp(), Device::Cpu).unwrap();
    let names: Vec<&str> = pack.manifest.models[0].outputs.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["grid", "overlay", "changed"]);
    // Adding the pixel form's `output` to it mixes the two sets: refused, naming both.
    let dir = copy_pack(&builtin_warp(), "mixed-outputs");
    edit_manifest(dir.path(), |m| set(m, &["generator", "outputs", "output"], shape(&["1", "3", "S", "S"])));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains(r#"["output", "changed"] or ["grid", "overlay", "changed"]"#), "{text}");
    // A resampling without its overlay is incomplete.
    let dir = copy_pack(&builtin_warp(), "no-overlay");
    edit_manifest(dir.path(), |m| remove(m, &["generator", "outputs", "overlay"]));
    let (_, text) = load_err(dir.path());
    assert!(text.contains("overlay") && text.contains("missing"), "{text}");
}

#[test]
fn crop_sides_beyond_the_largest_working_resolution_are_refused() {
    let limit = "but a crop side may be at most 1024, the largest working resolution the node offers (256, 512 or 1024).";
    let dir = copy_pack(&fewshot_test(), "side-resolutions");
    edit_manifest(dir.path(), |m| set(m, &["resolutions"], shape(&["256", "8192"])));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    let head = format!("The model pack {} cannot be used: ", dir.path().display());
    assert_eq!(text, format!("{head}field 'resolutions' of manifest.json lists 8192, {limit}"));

    let dir = copy_pack(&fewshot_test(), "side-shape");
    edit_manifest(dir.path(), |m| set(m, &["generator", "inputs", "sketch"], shape(&["1", "3", "8192", "8192"])));
    let (_, text) = load_err(dir.path());
    let head = format!("The model pack {} cannot be used: ", dir.path().display());
    assert_eq!(
        text,
        format!("{head}field 'generator.inputs.sketch' of manifest.json fixes the crop side \"S\" to 8192, {limit}")
    );

    let dir = copy_pack(&builtin_warp(), "side-dims");
    edit_manifest(dir.path(), |m| {
        set(m, &["dims"], Json::Object(vec![("S".into(), Json::Object(vec![("values".into(), shape(&["512", "8192"]))]))]))
    });
    let (_, text) = load_err(dir.path());
    let head = format!("The model pack {} cannot be used: ", dir.path().display());
    assert_eq!(text, format!("{head}field 'dims.S' of manifest.json allows a crop side of 8192, {limit}"));
    // The largest side the node offers is still accepted.
    let dir = copy_pack(&builtin_warp(), "side-1024");
    edit_manifest(dir.path(), |m| set(m, &["resolutions"], shape(&["1024"])));
    runtime();
    packs::load_pack(dir.path(), Device::Cpu).unwrap();
}

#[test]
fn a_fifo_or_device_in_a_pack_is_refused_at_once() {
    let dir = copy_pack(&fewshot_test(), "fifo-manifest");
    let manifest = dir.path().join("manifest.json");
    std::fs::remove_file(&manifest).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&manifest).status().unwrap().success());
    let started = std::time::Instant::now();
    let (err, text) = load_err(dir.path());
    assert!(started.elapsed().as_secs() < 5, "took {:?}", started.elapsed());
    assert!(matches!(err, PackError::Unreadable { .. }), "{text}");
    assert_eq!(
        text,
        format!(
            "The model pack {} cannot be used: manifest.json is a named pipe (FIFO), not a regular file.",
            dir.path().display()
        )
    );
    let dir = copy_pack(&fewshot_test(), "fifo-model");
    let model = dir.path().join("generator.onnx");
    std::fs::remove_file(&model).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&model).status().unwrap().success());
    let (_, text) = load_err(dir.path());
    assert!(text.ends_with("generator.onnx is a named pipe (FIFO), not a regular file."), "{text}");
}

#[test]
fn pack_digests_have_one_source_the_manifest() {
    // A pack's models are verified against the manifest's `sha256` fields only; a SHA256SUMS in a pack folder
    // would be a second, unverified list that can silently disagree, so no pack ships one.
    let root = builtin_warp().parent().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let mut packs_seen = 0;
    for base in [root.join("resources/models"), root.join("tests/data/packs")] {
        for entry in std::fs::read_dir(&base).unwrap().flatten() {
            let dir = entry.path();
            if dir.join("manifest.json").is_file() {
                packs_seen += 1;
                assert!(!dir.join("SHA256SUMS").exists(), "{} ships a SHA256SUMS besides its manifest", dir.display());
            }
        }
    }
    assert!(packs_seen >= 4, "found {packs_seen} packs");
}

// Manifest version 2: optional inputs (the warp role's `source_points` / `target_points`).

/// A copy of the identity warp test pack (a model without control points) whose manifest declares the given
/// optional inputs at `version`.
fn warp_with_points(tag: &str, version: f64, names: &[&str], p: &str) -> TempDir {
    let dir = copy_pack(&test_pack("identity_warp64"), tag);
    edit_manifest(dir.path(), |m| {
        set(m, &["version"], Json::Number(version));
        for name in names {
            set(m, &["generator", "inputs", name], shape(&["1", p, "2"]));
        }
    });
    dir
}

#[test]
fn version_3_is_refused_with_a_sentence() {
    let dir = copy_pack(&builtin_warp(), "v3");
    edit_manifest(dir.path(), |m| set(m, &["version"], Json::Number(3.0)));
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("'version'") && text.contains("is 3") && text.contains("newer Living Portrait"), "{text}");
}

#[test]
fn version_1_and_2_manifests_without_optional_inputs_load() {
    runtime();
    for version in [1.0, 2.0] {
        let dir = copy_pack(&test_pack("identity_warp64"), "v1v2");
        edit_manifest(dir.path(), |m| set(m, &["version"], Json::Number(version)));
        let pack = packs::load_pack(dir.path(), Device::Cpu).expect("the pack loads");
        assert_eq!(pack.manifest.version, version as u32);
        let names: Vec<&str> = pack.manifest.models[0].inputs.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["source", "source_landmarks", "target_landmarks"]);
    }
    // The built-in warp is a version 2 pack that takes the control points.
    let warp = packs::load_pack(&builtin_warp(), Device::Cpu).unwrap();
    assert_eq!(warp.manifest.version, 2);
    let names: Vec<&str> = warp.manifest.models[0].inputs.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["source", "source_landmarks", "target_landmarks", "source_points", "target_points", "source_iris", "target_iris"]);
    // its iris inputs left out of the manifest, the model's own inputs name them.
    let dir = copy_pack(&builtin_warp(), "no-iris");
    edit_manifest(dir.path(), |m| {
        remove(m, &["generator", "inputs", "source_iris"]);
        remove(m, &["generator", "inputs", "target_iris"]);
    });
    let (_, text) = load_err(dir.path());
    assert!(text.contains("source_iris"), "{text}");
}

#[test]
fn a_version_1_manifest_may_not_declare_optional_inputs() {
    let dir = warp_with_points("v1-points", 1.0, &["source_points", "target_points"], "P");
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("'generator.inputs.source_points'") && text.contains("version 2"), "{text}");
}

#[test]
fn optional_inputs_come_in_pairs() {
    for (one, other) in [("source_points", "target_points"), ("target_points", "source_points")] {
        let dir = warp_with_points("half", 2.0, &[one], "P");
        let (err, text) = load_err(dir.path());
        assert!(matches!(err, PackError::Manifest { .. }), "{text}");
        assert!(text.contains(&format!("'generator.inputs.{one}'")) && text.contains(other) && text.contains("both or neither"), "{text}");
    }
}

#[test]
fn control_point_counts_stay_free() {
    // P changes from frame to frame: a manifest fixing it is refused before any model is loaded.
    let dir = warp_with_points("p-fixed", 2.0, &["source_points", "target_points"], "40");
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Manifest { .. }), "{text}");
    assert!(text.contains("'generator.inputs.source_points'") && text.contains("\"P\""), "{text}");
    // The wrong symbol or a wrong fixed dimension is refused by the shape check.
    let dir = warp_with_points("p-symbol", 2.0, &["source_points", "target_points"], "Q");
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'generator.inputs.source_points'") && text.contains("must be [1, \"P\", 2]"), "{text}");
}

#[test]
fn an_unknown_input_names_the_optional_ones() {
    let dir = warp_with_points("unknown", 2.0, &["source_mesh"], "P");
    let (_, text) = load_err(dir.path());
    assert!(text.contains("'generator.inputs.source_mesh'") && text.contains("optionally") && text.contains("source_points"), "{text}");
}

#[test]
fn declared_points_the_model_lacks_are_named() {
    // The identity test pack's model takes no control points: declaring them is a tensor the model lacks.
    let dir = copy_pack(&test_pack("identity_warp64"), "points-absent");
    edit_manifest(dir.path(), |m| {
        set(m, &["version"], Json::Number(2.0));
        set(m, &["generator", "inputs", "source_points"], shape(&["1", "P", "2"]));
        set(m, &["generator", "inputs", "target_points"], shape(&["1", "P", "2"]));
    });
    let (err, text) = load_err(dir.path());
    assert!(matches!(err, PackError::Tensor { .. }), "{text}");
    assert!(text.contains("source_points") || text.contains("target_points"), "{text}");
}
