"""The web page in a real headless Chromium (Debian's chromium + chromium-driver, installed by .ci/run): type a
title, get rows, re-roll, rows change, the M3U download link works. Also writes docs/web-page.png."""
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not shutil.which("chromium") or not shutil.which(CHROMEDRIVER),
                                 reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                        "chromium-driver; .ci/run does)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_project):
    from helpers import project_env

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "playlistgen", "serve", "--bundle",
                             str(tiny_project / "data/bundle"), "--port", str(port)],
                            env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/api/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode()[-3000:])
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_type_a_title_get_rows_reroll_and_download(server, tmp_path):
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(server + "/")
        box = driver.find_element(By.ID, "title")
        box.send_keys("rainy sunday piano 深夜")
        driver.find_element(By.ID, "go").click()
        # the table is rebuilt on every answer: rows read mid-rebuild are stale, which means "not yet", not a failure
        wait = WebDriverWait(driver, 60, ignored_exceptions=[StaleElementReferenceException])
        rows = lambda d: [r.text for r in d.find_elements(By.CSS_SELECTOR, "#tracks tbody tr")]  # noqa: E731
        first = wait.until(lambda d: r if len(r := rows(d)) == 20 else False)
        assert driver.find_elements(By.CSS_SELECTOR, "#clusters span")
        changed = False
        for _ in range(5):  # a re-roll draws other songs from the same clusters (a tiny cluster may repeat)
            driver.find_element(By.ID, "reroll").click()
            try:
                wait.until(lambda d: rows(d) != first and len(rows(d)) == 20)
                changed = True
                break
            except Exception:  # noqa: BLE001 - try another draw
                continue
        assert changed
        href = driver.find_element(By.ID, "m3u").get_attribute("href")
        body = urllib.request.urlopen(href, timeout=30).read().decode()
        assert body.startswith("#EXTM3U") and body.count("#EXTINF") == 20
        assert driver.find_element(By.ID, "json").get_attribute("href").startswith("blob:")
        assert driver.find_element(By.ID, "status").text == ""
        driver.save_screenshot(str(tmp_path / "page.png"))
    finally:
        driver.quit()
