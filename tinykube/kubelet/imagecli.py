"""``tinykube image import|ls|rm``: the process runtime's image store, from the command line.

What ``ctr images import`` is to containerd: images travel as archives
(``docker save``, ``skopeo copy … oci-archive:``, ``podman save``), and
``import`` unpacks one where the kubelets look (``<data-dir>/images``, which
``tinykube up`` gives every kubelet it starts; ``--image-dir`` for a kubelet
of your own). A pod naming the image then runs chrooted in it with the
image's entrypoint, command, environment and working directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    p = subparsers.add_parser("image", help="import, list and remove images of the local store")
    verbs = p.add_subparsers(dest="verb", required=True)
    imp = verbs.add_parser("import", help="unpack an image archive (OCI layout or docker save)")
    imp.add_argument("archive", type=Path)
    imp.add_argument(
        "--name", default="", help="the reference to store it as (default: the archive's own)"
    )
    ls = verbs.add_parser("ls", aliases=["list"], help="list stored images")
    rm = verbs.add_parser("rm", aliases=["remove"], help="remove stored images")
    rm.add_argument("refs", nargs="+")
    for sub in (imp, ls, rm):
        sub.add_argument("--data-dir", default=Path("data"), type=Path)
        sub.add_argument("--image-dir", default=None, type=Path, help="default <data-dir>/images")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from tinykube.kubelet.runtime import imagestore

    image_dir = args.image_dir or args.data_dir / "images"
    try:
        if args.verb == "import":
            stored = imagestore.import_archive(image_dir, args.archive, args.name)
            print(f"{stored.name} imported ({stored.image_id}, {_size(stored.size)})")
        elif args.verb in ("ls", "list"):
            rows = [("REF", "IMAGE ID", "SIZE")]
            rows += [
                (i.name, i.image_id[:19], _size(i.size)) for i in imagestore.list_images(image_dir)
            ]
            widths = [max(len(r[i]) for r in rows) for i in range(2)]
            for ref, image_id, size in rows:
                print(f"{ref:<{widths[0]}}   {image_id:<{widths[1]}}   {size}")
        else:
            for ref in args.refs:
                print(f"{imagestore.remove_image(image_dir, ref)} removed")
    except imagestore.ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
