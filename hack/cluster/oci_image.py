#!/usr/bin/env python3
"""Write a one-layer OCI image archive from local files, for `ctr images import`.

The test node reaches no registry, so its sandbox image and the small test image are
assembled here from files on this machine (the pause program, Debian's busybox-static).

    oci_image.py OUT.tar NAME [--file SRC:DEST[:MODE]]... [--busybox SRC]
                 [--dir DEST]... [--entrypoint JSON] [--cmd JSON]

NAME is the full reference (localhost/audiotext-pause:dev); it is recorded in the index
annotation that containerd uses as the image name. The archive is reproducible: every
timestamp is zero and entries are sorted.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class Layer:
    """The root file system of the image, as tar entries keyed by path."""

    entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=dict)

    def add_dir(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub and sub not in self.entries:
                info = tarfile.TarInfo(sub)
                info.type = tarfile.DIRTYPE
                info.mode = 0o1777 if sub == "tmp" else 0o755
                self.entries[sub] = (info, None)

    def add_file(self, src: Path, dest: str, mode: int = 0o755) -> None:
        dest = dest.strip("/")
        if "/" in dest:
            self.add_dir(str(Path(dest).parent))
        data = src.read_bytes()
        info = tarfile.TarInfo(dest)
        info.size = len(data)
        info.mode = mode
        self.entries[dest] = (info, data)

    def add_symlink(self, dest: str, target: str) -> None:
        dest = dest.strip("/")
        if "/" in dest:
            self.add_dir(str(Path(dest).parent))
        info = tarfile.TarInfo(dest)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        info.mode = 0o777
        self.entries[dest] = (info, None)

    def to_tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.entries):
                info, data = self.entries[name]
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def busybox_applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True)
    return [name for name in out.stdout.split() if name and name != "busybox"]


def blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def write_archive(
    out: Path, name: str, layer_tar: bytes, entrypoint: list[str] | None, cmd: list[str] | None
) -> None:
    layer_digest, _ = blob(layer_tar)
    image_config: dict[str, object] = {
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"],
        "WorkingDir": "/",
    }
    if entrypoint:
        image_config["Entrypoint"] = entrypoint
    if cmd:
        image_config["Cmd"] = cmd
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "hack/cluster/oci_image.py"}],
    }
    config_digest, config_bytes = blob(json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer_tar)}],
    }
    manifest_digest, manifest_bytes = blob(json.dumps(manifest, sort_keys=True).encode())
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
        "blobs/sha256/" + layer_digest[7:]: layer_tar,
        "blobs/sha256/" + config_digest[7:]: config_bytes,
        "blobs/sha256/" + manifest_digest[7:]: manifest_bytes,
    }
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tarfile.open(tmp, mode="w") as tar:
        for dirname in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(dirname)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("name")
    parser.add_argument("--file", action="append", default=[], help="SRC:DEST[:MODE(octal)]")
    parser.add_argument("--dir", action="append", default=[], help="an empty directory")
    parser.add_argument("--busybox", type=Path, help="busybox binary: /bin/busybox + applet links")
    parser.add_argument("--entrypoint", type=json.loads)
    parser.add_argument("--cmd", type=json.loads)
    args = parser.parse_args()

    layer = Layer()
    for d in ("etc", "tmp", "proc", "sys", "dev", "var", *args.dir):
        layer.add_dir(d)
    if args.busybox:
        layer.add_file(args.busybox, "bin/busybox")
        for applet in busybox_applets(args.busybox):
            if f"bin/{applet}" not in layer.entries:
                layer.add_symlink(f"bin/{applet}", "busybox")
    for spec in args.file:
        src, dest, *mode = spec.split(":")
        layer.add_file(Path(src), dest, int(mode[0], 8) if mode else 0o755)
    write_archive(args.out, args.name, layer.to_tar(), args.entrypoint, args.cmd)


if __name__ == "__main__":
    main()
