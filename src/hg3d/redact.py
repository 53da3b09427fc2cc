"""Credentials kept out of what hg3d prints and writes: the password of a URL's user info
(``rtsp://user:secret@host/...``) is shown as ``***`` (``rtsp://user:***@host/...``)."""

import re

# scheme://user:password@ -- the password runs to the last '@' before the host (a password may
# itself hold '@' when its user typed it unquoted).
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s]*@")


def redact_url(text):
    """``text`` (a URL, or a message holding URLs) with every URL's password replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1***@", text)
