"""hg3d.demo.sinks.open_video_writer: H.264 MP4 through PyAV, read back frame by frame; odd sizes; a file that
cannot be opened is a one-line error at open time; OpenCV's mp4v, with a notice, without PyAV.
(That Chromium plays these files is tested in test_viewer.py.)"""

import builtins

import av
import cv2
import numpy as np
import pytest

from hg3d.demo import sinks as video_writer
from hg3d.demo.sinks import open_video_writer
from hg3d.errors import UserError


def moving_square(count, width, height):
    """Frames of a coloured square moving over a gradient: easy to compare after lossy coding."""
    ramp = np.linspace(40, 200, width, dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = np.repeat(np.stack([ramp, ramp[::-1], np.full(width, 90, np.uint8)], -1)[None], height, 0)
        cv2.rectangle(frame, (4 + 6 * index, 10), (24 + 6 * index, 30), (20, 220, 250), -1)
        frames.append(frame)
    return frames


def write(path, frames, fps, log=print):
    writer = open_video_writer(str(path), fps, (frames[0].shape[1], frames[0].shape[0]), log=log)
    for frame in frames:
        writer.write(frame)
    writer.release()


def read_back(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


@pytest.mark.parametrize("size", [(96, 64), (97, 63)])
def test_h264_holds_the_frames_written(tmp_path, size):
    frames = moving_square(8, *size)
    path = tmp_path / "clip.mp4"
    write(path, frames, 29.97)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert stream.average_rate == pytest.approx(29.97, abs=0.01)
        assert (stream.width, stream.height) == (size[0] + size[0] % 2, size[1] + size[1] % 2)
    decoded = read_back(path)
    assert len(decoded) == len(frames)
    for index, (written, read) in enumerate(zip(frames, decoded)):
        error = np.abs(read[: size[1], : size[0]].astype(int) - written).mean()
        assert error < 3, (index, error)  # each frame is its own frame, not a neighbour's
        assert np.abs(read[: size[1], : size[0]].astype(int) - frames[index - 1]).mean() > 2 * error


def test_flat_colours_come_back_as_written(tmp_path):
    """No colour shift: BT.601 limited range written, and declared, as decoders read it."""
    colours = [(16, 16, 16), (128, 128, 128), (200, 200, 200), (20, 220, 250), (200, 40, 90)]
    frames = [np.full((48, 64, 3), colour, np.uint8) for colour in colours]
    write(tmp_path / "flat.mp4", frames, 10)
    decoded = read_back(tmp_path / "flat.mp4")
    np.testing.assert_allclose([f[24, 32] for f in decoded], colours, atol=1)
    with av.open(str(tmp_path / "flat.mp4")) as container:
        context = container.streams.video[0].codec_context
        assert (context.colorspace, context.color_range) == (6, 1)  # SMPTE 170M (BT.601), limited range


def test_a_file_that_cannot_be_opened_fails_at_open(tmp_path):
    path = tmp_path / "no_such_folder" / "clip.mp4"
    with pytest.raises(
        UserError, match=r"^cannot open .*no_such_folder/clip\.mp4 for an H\.264 \(libx264\) video"
    ) as err:
        open_video_writer(str(path), 10, (64, 48))
    assert "\n" not in str(err.value) and not path.parent.exists()


def test_a_frame_of_another_size_is_refused(tmp_path):
    writer = open_video_writer(str(tmp_path / "clip.mp4"), 10, (64, 48))
    with pytest.raises(ValueError, match="frame of 48x64 in a 64x48 video"):
        writer.write(np.zeros((64, 48, 3), np.uint8))
    writer.release()


def test_without_pyav_mp4v_with_a_notice(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("no av here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    notices = []
    frames = moving_square(5, 64, 48)
    write(tmp_path / "clip.mp4", frames, 10, log=notices.append)
    assert len(notices) == 1 and "mp4v" in notices[0] and "pip install av" in notices[0]
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"  # MPEG-4 Part 2
    assert len(read_back(tmp_path / "clip.mp4")) == 5
    with pytest.raises(UserError, match=r"^cannot open .*/missing/clip\.mp4 for an mp4v video"):
        open_video_writer(str(tmp_path / "missing" / "clip.mp4"), 10, (64, 48), log=notices.append)


def test_pyav_without_libx264_counts_as_missing(monkeypatch):
    monkeypatch.setattr(av, "codecs_available", set(av.codecs_available) - {video_writer.H264_CODEC})
    assert video_writer._pyav_with_h264() is None
