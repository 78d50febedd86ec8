// Copyright (c) crust authors. Licensed under the MIT license.
//
// Links libcrust (the shared library). Where it is found, in order:
//  * $CRUST_LIB_DIR (the directory holding libcrust.so; the in-tree tests
//    point it at the build directory);
//  * `pkg-config --libs crust` (an installed copy; set PKG_CONFIG_PATH for a
//    non-standard prefix).
// The directory is also recorded as the binaries' run path, so tests and
// examples run without LD_LIBRARY_PATH.
use std::env;
use std::process::Command;

fn link_dir(dir: &str) {
    println!("cargo:rustc-link-search=native={}", dir);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    // Relink when the library changes (its SONAME may have).
    println!("cargo:rerun-if-changed={}/libcrust.so", dir);
}

fn main() {
    println!("cargo:rerun-if-env-changed=CRUST_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(dir) = env::var("CRUST_LIB_DIR") {
        if !dir.is_empty() {
            link_dir(&dir);
            println!("cargo:rustc-link-lib=dylib=crust");
            return;
        }
    }
    let output = Command::new("pkg-config").args(["--libs", "crust"]).output();
    match output {
        Ok(out) if out.status.success() => {
            let flags = String::from_utf8_lossy(&out.stdout).to_string();
            for flag in flags.split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    link_dir(dir);
                } else if let Some(lib) = flag.strip_prefix("-l") {
                    println!("cargo:rustc-link-lib=dylib={}", lib);
                }
            }
        }
        Ok(out) => panic!(
            "crust: `pkg-config --libs crust` failed ({}); install crust or set CRUST_LIB_DIR",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("crust: cannot run pkg-config ({}); set CRUST_LIB_DIR", e),
    }
}
