"""A file of fixed bytes for the tests' file responses (wsgi.file_wrapper, Flask's send_file)."""

import hashlib
import os
import tempfile


def blob_file(tag, blocks=9600):
    """(path, bytes): `blocks` SHA-256 digests of `tag` (300 KiB by default), written once per
    machine (atomically: several processes may start at once) under a name that says its
    content."""
    data = b"".join(hashlib.sha256(b"%s-%d" % (tag.encode(), i)).digest() for i in range(blocks))
    path = os.path.join(tempfile.gettempdir(),
                        f"{tag}-blob-{hashlib.sha256(data).hexdigest()[:16]}.bin")
    if not os.path.exists(path) or os.path.getsize(path) != len(data):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path, data
