"""``zoo view`` in headless Chromium (selenium): the page loads offline with no console error, uploads of a
16-bit PNG and a DICOM show the four panels, the before/after slider moves, downloads equal ``zoo sr``'s.

Set ZOO_VIEW_SCREENSHOT=docs/img/view.png to save the page (shrunk) for the docs."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from tests.view.conftest import dicom, needs, png16, same_file

pytestmark = pytest.mark.slow

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _driver():
    needs("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = next((shutil.which(name) for name in CHROMIUM if shutil.which(name)), None)
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip("no Chromium/chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1700"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture(scope="module")
def page(view_server):
    driver = _driver()
    try:
        driver.get(view_server.url)
        _wait(lambda: driver.find_elements("css selector", "#run"), 60, "the page")
        yield driver
    finally:
        driver.quit()


def _wait(found, seconds: float, what: str):
    """``found()``'s first true value (elements re-rendered under it count as not yet found)."""
    from selenium.common.exceptions import StaleElementReferenceException

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            value = found()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _severe(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _outside_requests(driver, base: str) -> list[str]:
    """URLs the page asked for that are not the server's (fonts, CDN, analytics)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not (url.startswith(base) or url.startswith("data:") or url.startswith("blob:")):
                urls.append(url)
    return urls


def _upload_and_run(driver, path: Path) -> None:
    driver.refresh()  # a fresh page: no earlier upload, the slider's divider in the middle
    _wait(lambda: driver.find_elements("css selector", "#upload input[type=file]"), 20, "the upload field")
    driver.find_element("css selector", "#upload input[type=file]").send_keys(str(path))
    stem = path.name.split(".")[0]
    _wait(lambda: stem in driver.find_element("id", "upload").text, 60, "the upload")
    driver.find_element("id", "run").click()


def _download_links(driver, names: tuple[str, ...]) -> dict[str, str]:
    links = {a.get_attribute("download"): a.get_attribute("href")
             for a in driver.find_elements("css selector", "#downloads a[download]")}
    return links if set(names) <= set(links) else {}


def test_page_loads_offline_with_no_console_error(page, view_server):
    assert _severe(page) == []
    assert _outside_requests(page, view_server.url.rstrip("/")) == []


@pytest.mark.parametrize("source", [png16, dicom], ids=["png16", "dicom"])
def test_upload_shows_four_panels_slider_moves_download_is_zoo_sr_output(page, view_server, source):
    from selenium.webdriver.common.action_chains import ActionChains

    path = source()
    stem = path.name.split(".")[0]
    names = (path.name, f"{stem}.uncertainty{path.name[len(stem):]}")
    _upload_and_run(page, path)
    links = _wait(lambda: _download_links(page, names), 300, "the SR run")
    for panel in ("lr", "bicubic", "sr", "uncertainty"):
        image = page.find_element("css selector", f"#panel-{panel} img")
        assert image.is_displayed() and image.get_attribute("src"), panel
    slider = page.find_element("css selector", "#slider .image-container")
    before = slider.screenshot_as_png
    ActionChains(page).move_to_element(slider).click_and_hold().move_by_offset(-120, 0).release().perform()
    time.sleep(0.5)
    assert slider.screenshot_as_png != before  # the divider moved
    for name, url in links.items():
        with urllib.request.urlopen(url, timeout=30) as answer:
            got = answer.read()
        assert same_file(got, (view_server.expected / name).read_bytes(), name), name
    assert _severe(page) == []
    shot = os.environ.get("ZOO_VIEW_SCREENSHOT")
    if shot and source is dicom:
        _save_screenshot(page, Path(shot))


def _save_screenshot(driver, target: Path, width: int = 900) -> None:
    """The page as a small PNG (for docs/img/view.png)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128).save(target, optimize=True)
