"""Stream passwords are shown as ***: in URLs, in messages that quote them, and in a command's error line."""

import os
import subprocess
import sys

import pytest

from helpers import REPO_DIR
from hg3d.redaction import redact


@pytest.mark.parametrize(
    "text, shown",
    [
        ("rtsp://user:secret@cam.local:554/stream1", "rtsp://user:***@cam.local:554/stream1"),
        ("http://admin:p@ss@10.0.0.2/video.mjpg", "http://admin:***@10.0.0.2/video.mjpg"),
        ("rtsp://:secret@cam/x", "rtsp://:***@cam/x"),
        ("rtsps://u:pa:ss@h", "rtsps://u:***@h"),
        (
            "cannot open 'rtsp://u:one@a/x' or rtsp://v:two@b/y: timed out",
            "cannot open 'rtsp://u:***@a/x' or rtsp://v:***@b/y: timed out",
        ),
    ],
)
def test_passwords_are_replaced(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "rtsp://user@cam.local/stream",  # a user name without a password
        "http://cam.local:8080/x@2x.jpg",  # an "@" in the path
        "photos/me@home:2.jpg",
        "time 12:30@ noon",
        "0",
    ],
)
def test_text_without_a_password_is_unchanged(text):
    assert redact(text) == text


@pytest.mark.e2e
def test_a_command_error_line_does_not_show_the_password(tmp_path):
    url = "rtsp://user:secret@cam.local/x.json"
    view = os.path.join(REPO_DIR, "scripts", "view.py")  # hg3d-view's code, also where it is not installed
    proc = subprocess.run([sys.executable, view, url], capture_output=True, text=True)
    assert proc.returncode == 2 and "secret" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: cannot read demo result rtsp://user:***@cam.local/x.json")
