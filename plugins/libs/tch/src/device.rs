//! Where tensors live: `"cpu"`, `"cuda"`, `"cuda:N"` or `"auto"` (CUDA when usable, else CPU).
//!
//! libtorch_cuda is not linked: the linker's `--as-needed` drops it (nothing references it
//! directly), and that is what lets the light CPU install run at all, since its CUDA libraries
//! (cuBLAS, cuDNN, NCCL, ...) are absent. So it is loaded here, at run time, where it loads.
//! It must be loaded before libtorch first consults its CUDA hooks (`manual_seed`,
//! `is_available`, the autograd engine's device threads...): libtorch decides once whether CUDA
//! exists. [`init`] does it; every constructor of this crate calls it, and a plugin that uses
//! tch directly calls it first. Ask for devices through [`parse`], never through
//! `tch::Device::cuda_if_available`.

use std::sync::OnceLock;
use tch::{Cuda, Device};
use xnas_core::{PluginError, PluginResult};

/// Loads libtorch's CUDA backend where this libtorch has a loadable one (once per process; a
/// no-op after). Cheap when it does not load: the dynamic loader stops at the first missing
/// CUDA library.
pub fn init() {
    // Whether it loaded is reported by `parse` when CUDA is asked for.
    let _ = load_cuda_backend();
}

/// Parses a device setting. `setting` is the parameter's name, used in error messages.
///
/// Asking for CUDA where it cannot be used is an `INVALID_PARAMS` error that names the setting
/// and says why; `"auto"` never fails.
pub fn parse(setting: &str, value: &str) -> PluginResult<Device> {
    let value = value.trim();
    let bad =
        |why: String| PluginError::invalid_params(format!("`{setting} = \"{value}\"`: {why}"));
    match value {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(match cuda_status() {
            Ok(n) if n > 0 => Device::Cuda(0),
            _ => Device::Cpu,
        }),
        "cuda" => cuda(0).map_err(bad),
        _ => match value.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => cuda(index).map_err(bad),
            _ => Err(bad(
                "expected \"cpu\", \"cuda\", \"cuda:N\" (N = 0, 1, ...) or \"auto\"".into(),
            )),
        },
    }
}

/// The device a setting names, formatted the way `parse` reads it (for logs and state files).
pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
    }
}

fn cuda(index: usize) -> Result<Device, String> {
    let count = cuda_status()?;
    if index < count {
        Ok(Device::Cuda(index))
    } else if count == 0 {
        Err("CUDA is not available: libtorch's CUDA backend loaded but sees no GPU".into())
    } else {
        Err(format!(
            "there are only {count} CUDA devices (cuda:0 … cuda:{})",
            count - 1
        ))
    }
}

/// The number of usable CUDA devices, or why there are none.
fn cuda_status() -> Result<usize, String> {
    load_cuda_backend()?;
    if Cuda::is_available() {
        Ok(usize::try_from(Cuda::device_count()).unwrap_or(0))
    } else {
        Ok(0)
    }
}

/// Loads libtorch_cuda once per process (its static initialisers register the CUDA backend).
/// Kept loaded for good: unloading CUDA libraries under a running libtorch is not safe.
fn load_cuda_backend() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = std::path::Path::new(crate::LIBTORCH_LIB).join("libtorch_cuda.so");
            if !path.exists() {
                return Err(format!(
                    "CUDA is not available: this libtorch has no CUDA backend ({} is missing)",
                    path.display()
                ));
            }
            use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
            // SAFETY: libtorch_cuda's initialisers only register the CUDA backend with the
            // libtorch already loaded in this process, which is what we want.
            match unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_GLOBAL) } {
                Ok(lib) => {
                    std::mem::forget(lib);
                    Ok(())
                }
                Err(e) => Err(format!(
                    "CUDA is not available: libtorch's CUDA backend does not load ({e}); the light \
                     libtorch install is CPU-only, see docs/libtorch.md for a CUDA install"
                )),
            }
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_core::ErrorKind;

    #[test]
    fn cpu_parses_and_names_round_trip() {
        assert_eq!(parse("device", "cpu").unwrap(), Device::Cpu);
        assert_eq!(parse("device", " cpu ").unwrap(), Device::Cpu);
        assert_eq!(name(Device::Cpu), "cpu");
        assert_eq!(name(Device::Cuda(1)), "cuda:1");
    }

    #[test]
    fn unknown_values_name_the_setting() {
        for value in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""] {
            let e = parse("head.device", value).unwrap_err();
            assert_eq!(e.kind, ErrorKind::INVALID_PARAMS, "{value}: {e}");
            assert!(e.message().starts_with("`head.device = "), "{e}");
            assert!(e.message().contains("expected \"cpu\", \"cuda\""), "{e}");
        }
    }

    #[test]
    fn cuda_is_given_only_where_it_is_usable() {
        // Both branches assert: this machine's answer decides which one runs.
        let usable = cuda_status().unwrap_or(0);
        match parse("device", "cuda") {
            Ok(d) => {
                assert!(usable > 0);
                assert_eq!(d, Device::Cuda(0));
            }
            Err(e) => {
                assert_eq!(usable, 0);
                assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
                assert!(e.message().starts_with("`device = \"cuda\"`: "), "{e}");
                assert!(e.message().contains("CUDA is not available"), "{e}");
            }
        }
        let e = parse("device", "cuda:99").unwrap_err();
        assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
        assert!(e.message().starts_with("`device = \"cuda:99\"`: "), "{e}");
        let auto = parse("device", "auto").unwrap();
        assert_eq!(
            auto,
            if usable > 0 {
                Device::Cuda(0)
            } else {
                Device::Cpu
            }
        );
    }
}
