"""Stream passwords never reach what hg3d prints or writes: ``rtsp://user:secret@host/...`` is
shown as ``rtsp://user:***@host/...``, in a bare URL and in any message that quotes one."""

import re

# scheme://user:password@ -- the password runs to the last "@" before the path (a raw "@" in a
# password is common in camera URLs), never across a "/" or white space.
_USERINFO_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):[^\s/]*@")


def redact(text):
    """``text`` with the password of every URL in it replaced by ``***`` (user name and host kept)."""
    return _USERINFO_PASSWORD.sub(r"\g<head>:***@", text)
