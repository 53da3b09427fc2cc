"""The images that calibrate ``--precision int8``: those of ``--calibration DIR``, else the first
``CALIBRATION_IMAGES`` images or video frames of the demo's own input."""

import itertools
import os

from ..errors import UserError
from ..files import imread_bgr
from .sources import IMAGE_EXTENSIONS, VideoReader, is_video

CALIBRATION_IMAGES = 32


def first_images(paths, count=CALIBRATION_IMAGES):
    """Up to ``count`` BGR images: the files' images and their videos' frames, in order (files that
    cannot be read, cameras and streams left out)."""

    def images_of(path):
        if not os.path.isfile(path):
            return iter(())
        if is_video(path):
            return (frame for frame, _ in VideoReader(path).frames())
        return (image for image in [imread_bgr(path)] if image is not None)

    return list(itertools.islice(itertools.chain.from_iterable(map(images_of, paths)), count))


def calibration_images(folder, inputs):
    """The calibration images: the images in ``folder`` (``--calibration``), else the first frames
    or images of ``inputs`` (the demo's input paths); a one-line error when there are none."""
    if folder:
        if not os.path.isdir(folder):
            raise UserError(f"--calibration {folder} is not a folder: give a folder of images")
        names = sorted(f for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
        images = first_images([os.path.join(folder, name) for name in names])
        where = f"--calibration {folder}"
    else:
        images = first_images(inputs)
        where = f"the input ({', '.join(inputs)})"
    if not images:
        raise UserError(f"--precision int8 needs images to calibrate on, and {where} has none: pass --calibration DIR")
    return images
