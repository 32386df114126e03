"""package: one reproducible zip per handler module, named by its code digest.

Each artifact holds the module and the local modules it imports (nothing else from
handlers/), with fixed timestamps, order and permissions, so the same code gives the same
bytes on any machine. The path inside the output folder is the S3 key the templates use
(`handlers/<module>-<digest>.zip`); deploy uploads the folder to the deployment bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Iterable

from .. import naming
from ..diagnostics import SpecError
from ..spec.handlers import Bundle, scan_handlers
from ..build.resolve import Resolved

EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
MODE = 0o100644  # a regular file, rw-r--r--


def handler_modules(resolved: Iterable[Resolved]) -> set[str]:
    """The handler modules some resource runs (any resource whose spec has a `handler`)."""
    return {
        str(handler).rsplit(".", 1)[0]
        for stage in resolved
        for resource in stage.index.values()
        if (handler := getattr(resource.spec, "handler", None))
    }


def artifact_key(bundle: Bundle) -> str:
    return naming.artifact_key(bundle.module, bundle.digest)


def zip_bytes(bundle: Bundle) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in bundle.files:
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.external_attr = MODE << 16
            info.create_system = 3  # unix, whatever the packing machine is
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=9)
    return buffer.getvalue()


def package(handlers_dir: Path, out_dir: Path, modules: set[str] | None = None) -> dict[str, str]:
    """Write the artifacts (all modules, or the given ones); return key -> sha256 of the zip."""
    code = scan_handlers(handlers_dir)
    if code.outside:  # never pack bytes from outside the repository
        raise SpecError(code.problems(handlers_dir.name))
    written = {}
    out_dir.mkdir(parents=True, exist_ok=True)  # a spec without functions still gets its (empty) list
    for module in sorted(modules if modules is not None else code.bundles):
        bundle = code.bundles[module]
        data = zip_bytes(bundle)
        key = artifact_key(bundle)
        target = out_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        written[key] = hashlib.sha256(data).hexdigest()
    (out_dir / "artifacts.json").write_text(json.dumps(written, indent=2, sort_keys=True) + "\n")
    return written
