//! Build script of the `ofx` crate: with the `host` feature, compiles the C
//! shim that implements the variadic OFX suite functions of the headless host
//! (see `csrc/param_varargs.c`), which stable Rust cannot define itself. The
//! plugin side needs no C code, so without the feature there is nothing to do.

fn main() {
    println!("cargo:rerun-if-changed=csrc/param_varargs.c");
    #[cfg(feature = "host")]
    cc::Build::new()
        .file("csrc/param_varargs.c")
        .warnings(true)
        .flag_if_supported("-fvisibility=hidden")
        .compile("lp_ofxhost_varargs");
}
