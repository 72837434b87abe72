"""``mlsm demo`` in a real browser: headless Chromium driven by Selenium.

Starts ``python -m mlsm demo`` on a free loopback port, uploads a dark JPEG, picks the
"gamma" comparison, clicks Enhance, and checks that the result shown in the page (fetched
from its ``src``) is brighter than the upload, that the estimated JPEG quality is shown, and
that the page made no request to a host other than this computer (Chrome performance log).
A screenshot goes to ``test-artifacts/demo.png`` and into pytest's tmp folder.

Skipped only when Selenium, Gradio, Chromium or ChromeDriver is not installed.
"""
from __future__ import annotations

import io
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlparse

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the demo needs gradio (pip install 'mlsm[demo]')")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


REPO = Path(__file__).resolve().parents[1]
KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos" / "kodak24" / "kodim23.png"
WAIT_S = 60
COMPARISON = "gamma"
LOOPBACK_NAMES = {"localhost"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome"}  # chrome://: the browser's own pages, never network


def _executable(preferred: str, name: str) -> str | None:
    return preferred if Path(preferred).is_file() else shutil.which(name)


CHROMIUM = _executable("/usr/bin/chromium", "chromium")
CHROMEDRIVER = _executable("/usr/bin/chromedriver", "chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="chromium and chromedriver are not installed "
                                       "(apt-get install chromium chromium-driver)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _is_local(url: str) -> bool:
    parts = urlparse(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return False
    host = parts.hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dark_jpeg(path: Path) -> np.ndarray:
    """A 256 x 192 dark JPEG (QF 70) from a Kodak photo, or a synthetic scene without the data."""
    if KODAK.is_file():
        with Image.open(KODAK) as photo:
            clean = np.asarray(photo.convert("RGB").resize((256, 192), Image.BICUBIC), np.float32) / 255
    else:
        rows, cols = np.mgrid[0:192, 0:256] / 40.0
        clean = np.stack([np.sin(cols) * 0.5 + 0.5, np.cos(rows) * 0.5 + 0.5, (cols + rows) / 11.2], -1)
    Image.fromarray(np.uint8(np.round(clean * 0.15 * 255))).save(path, quality=70)
    with Image.open(path) as saved:
        return np.asarray(saved.convert("RGB"), np.float32)


def _fetch_image(url: str) -> np.ndarray:
    assert _is_local(url), url
    with urllib.request.urlopen(url, timeout=WAIT_S) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"), np.float32)


def _wait_for_server(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlsm demo exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"mlsm demo did not answer on {url} within {WAIT_S} s:\n{log.read_text()}")


def _requests_seen(driver) -> list[str]:
    """URLs of every request and web socket in the performance log since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _browser(profile: Path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1400,1250"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _choose(driver, elem_id: str, value: str) -> None:
    """Pick ``value`` in a Gradio dropdown: type to filter, Enter to select."""
    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f"[role=option][aria-label='{value}']"))
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, WAIT_S).until(lambda d: box.get_attribute("value") == value)


def test_demo_in_a_real_browser(tmp_path):
    started = time.monotonic()
    import mlsm

    if not mlsm.list_models():
        pytest.fail("no default model installed in mlsm/weights: the demo has no mlsm model to show")
    photo = tmp_path / "dark.jpg"
    dark = _dark_jpeg(photo)
    (tmp_path / "no-peers").mkdir()
    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copyfile(photo, samples / "night.jpg")

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp_path / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLSM_PEERS_DIR", None)
    command = [sys.executable, "-m", "mlsm", "demo", "--host", "127.0.0.1", "--port", str(port),
               "--peers-dir", str(tmp_path / "no-peers"),
               "--samples", str(samples)]
    with open(log, "wb") as log_file:
        server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    driver = None
    try:
        _wait_for_server(url, server, log)
        driver = _browser(tmp_path / "chrome-profile")
        driver.set_page_load_timeout(WAIT_S)
        _requests_seen(driver)  # drop what the browser did before opening the page
        driver.get(url)
        wait = WebDriverWait(driver, WAIT_S)
        upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#uploads input[type=file]"))
        upload.send_keys(str(photo))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads a[download='dark.jpg']"))
        _choose(driver, "comparison", COMPARISON)
        driver.find_element(By.ID, "enhance").click()

        images = wait.until(lambda d: [img for img in d.find_elements(By.CSS_SELECTOR, "#slider-comparison img")
                                       if img.get_attribute("src")] or None)
        wait.until(lambda d: "Enhanced 1 photo" in d.find_element(By.CSS_SELECTOR, "#status textarea")
                   .get_attribute("value"))
        sources = [urljoin(url, img.get_attribute("src")) for img in images]
        assert len(sources) == 2, sources  # before and after
        shown = [_fetch_image(source) for source in sources]
        means = sorted(image.mean() for image in shown)
        assert abs(means[0] - dark.mean()) < 2.0, (means, dark.mean())   # the upload itself
        assert means[1] > dark.mean() + 30, (means, dark.mean())         # the brighter result

        mlsm_images = [img for img in driver.find_elements(By.CSS_SELECTOR, "#slider-mlsm img")
                       if img.get_attribute("src")]
        mlsm_means = sorted(_fetch_image(urljoin(url, img.get_attribute("src"))).mean() for img in mlsm_images)
        assert len(mlsm_means) == 2 and mlsm_means[1] > dark.mean() + 15, (mlsm_means, dark.mean())  # bundled model

        summary = driver.find_element(By.ID, "summary").text
        assert "QF 70" in summary and "256 x 192" in summary and f"{COMPARISON} time" in summary
        links = [urljoin(url, a.get_attribute("href"))
                 for a in driver.find_elements(By.CSS_SELECTOR, "#downloads a[download]")]
        assert sorted(Path(urlparse(link).path).name for link in links) == ["dark_gamma.png", "dark_mlsm.png"]
        download = _fetch_image(next(link for link in links if link.endswith("_gamma.png")))
        assert download.shape == dark.shape and download.mean() > dark.mean() + 30
        zoom = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#zoom img").get_attribute("src"))
        assert _fetch_image(urljoin(url, zoom)).shape[1] > 3 * dark.shape[1] // 5

        time.sleep(0.5)  # let the slider images paint before the screenshot
        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(tmp_path / "demo.png"))
        shutil.copyfile(tmp_path / "demo.png", artifacts / "demo.png")

        # a bundled sample replaces the upload and runs the same way
        _choose(driver, "sample", "night.jpg")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads a[download='night.jpg']"))
        driver.find_element(By.ID, "enhance").click()
        wait.until(lambda d: "night.jpg" in d.find_element(By.ID, "summary").text)

        requests = _requests_seen(driver)
        assert any(request.startswith(url) for request in requests)
        outside = sorted({request for request in requests if not _is_local(request)})
        assert outside == [], f"the page contacted other hosts: {outside}"
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
    assert time.monotonic() - started < 90, "the browser test should stay well under a minute"
