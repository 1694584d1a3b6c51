"""Splits heaptrack's peak report (heaptrack_print -m 0 -p 1 on stdin) into the plugin's share and the host's.

The innermost frame outside the C and C++ runtimes says who allocated: the plugin or the ONNX Runtime it
loaded, or the host (host code called back by the plugin, such as an input image it fetches, is the host's).
"""
import re
import sys

UNITS = {"B": 1, "K": 1e3, "M": 1e6, "G": 1e9}
RUNTIMES = re.compile(r"libc\.so|libstdc\+\+|libgcc|ld-linux|heaptrack")

plugin = host = 0.0
for block in sys.stdin.read().split("\n\n"):
    m = re.search(r"^([0-9.]+)([BKMG]) peak memory consumed", block, re.M)
    if not m:
        continue
    size = float(m.group(1)) * UNITS[m.group(2)]
    libs = [lib for lib in re.findall(r"^\s+in (\S+)", block, re.M) if not RUNTIMES.search(lib)]
    if libs and ("LivingPortrait.ofx" in libs[0] or "libonnxruntime" in libs[0]):
        plugin += size
    else:
        host += size
print(f"at the peak: plugin and its ONNX Runtime {plugin / 1e6:.0f} MB, host {host / 1e6:.0f} MB")
