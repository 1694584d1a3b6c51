//! Build script of the `ofx` crate: compiles the C shim that implements the
//! variadic OFX suite functions of the headless host (see
//! `csrc/param_varargs.c`), which stable Rust cannot define itself.

fn main() {
    println!("cargo:rerun-if-changed=csrc/param_varargs.c");
    cc::Build::new()
        .file("csrc/param_varargs.c")
        .warnings(true)
        .flag_if_supported("-fvisibility=hidden")
        .compile("lp_ofxhost_varargs");
}
