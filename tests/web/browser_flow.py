"""A person uses Reprise's web UI in Debian's chromium (headless), driven by selenium: logs in, mints a
stream token (shown once, then only its label), revokes it and sees a stream with it refused, revokes
another session, plays an album in the browser (audio.currentTime advances), queues it on a real MPD
and sees the player page follow what an MPD client (mpc) does within two seconds, logs out.
Writes screenshots of the main pages at 1280x800 and 390x844.

usage: browser_flow.py BASE_URL USER PASSWORD MPD_PORT SCREENSHOT_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

base, user, password, mpd_port, shots = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def status(url, method="GET", headers=None, body=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def mpc(*args):
    subprocess.run(["mpc", "-h", "127.0.0.1", "-p", mpd_port, *args], check=True, capture_output=True)


def within(seconds, condition, what):
    """Waits for `condition` at most `seconds`; fails naming `what`."""
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        try:
            if condition():
                return time.monotonic() - t
        except WebDriverException:
            pass  # the page is being replaced (a form posted): look again
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


profile = tempfile.mkdtemp(prefix="reprise-browser-")
options = Options()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--autoplay-policy=no-user-gesture-required", "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 10)


def shot(name):
    os.makedirs(shots, exist_ok=True)
    for w, h, mobile in ((1280, 800, False), (390, 844, True)):
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})
        time.sleep(0.2)
        driver.save_screenshot(os.path.join(shots, f"{name}-{w}x{h}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


try:
    # Log in.
    driver.get(base + "/library")
    assert "/login" in driver.current_url, driver.current_url
    shot("login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    wait.until(lambda d: d.current_url.endswith("/library"))
    assert "Log out " + user in driver.page_source
    # The cookie is HttpOnly: a script cannot read it.
    assert "reprise_session" not in driver.execute_script("return document.cookie"), "the session cookie is readable by scripts"
    shot("library")

    # Mint a stream token: shown once, then only its label.
    driver.get(base + "/tokens")
    driver.find_element(By.ID, "label").send_keys("e2e living room")
    driver.find_element(By.CSS_SELECTOR, "form[action='/tokens'] button[type=submit]").click()
    secret = wait.until(lambda d: d.find_element(By.ID, "secret")).text
    assert secret.startswith("rt_"), secret
    shot("tokens")
    driver.get(base + "/tokens")
    assert "e2e living room" in driver.page_source and secret not in driver.page_source
    assert status(f"{base}/stream/1?token={secret}") == 200
    # Revoke it: a stream with it is refused.
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Revoke e2e living room']").click()
    wait.until(lambda d: "e2e living room" not in d.page_source)
    assert status(f"{base}/stream/1?token={secret}") == 401, "a revoked token still streams"

    # Another session (an app's), revoked from the sessions page.
    req = urllib.request.Request(base + "/api/v1/sessions", method="POST", data=json.dumps({"username": user, "password": password, "kind": "api", "client": "e2e-other"}).encode())
    other = json.loads(urllib.request.urlopen(req).read())["session"]
    assert status(base + "/api/v1/sessions/ping", "POST", {"Authorization": "Bearer " + other}) == 200
    driver.get(base + "/sessions")
    row = driver.find_element(By.XPATH, "//tr[td[text()='e2e-other']]")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "e2e-other" not in d.page_source)
    assert status(base + "/api/v1/sessions/ping", "POST", {"Authorization": "Bearer " + other}) == 401, "a revoked session still works"
    shot("sessions")

    # Play an album in the browser: the <audio> element streams with the session cookie.
    driver.get(base + "/library?view=albums")
    driver.find_element(By.PARTIAL_LINK_TEXT, "Blue Hours").click()
    wait.until(lambda d: "/albums/" in d.current_url)
    album_url = driver.current_url
    driver.find_element(By.ID, "play-all").click()
    within(10, lambda: (driver.execute_script("return document.getElementById('audio').currentTime") or 0) > 0.5, "audio.currentTime advancing")
    assert driver.find_element(By.ID, "audio-title").text == "Morning"
    shot("album")
    driver.execute_script("document.getElementById('audio').pause()")

    # Queue the album on the MPD player; the player page follows MPD as another client drives it.
    Select(driver.find_element(By.ID, "player")).select_by_visible_text("living")
    driver.find_element(By.CSS_SELECTOR, "form[action='/players/queue'] button[type=submit]").click()
    wait.until(lambda d: d.current_url.endswith("/players/living"))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#p-queue li")) == 3)
    state = lambda: driver.find_element(By.ID, "p-state").text
    mpc("play")
    took = within(2, lambda: state() == "play", "the page showing play after `mpc play`")
    print(f"play seen after {took:.2f} s")
    within(2, lambda: driver.find_element(By.ID, "p-title").text.startswith("Morning"), "the page showing the song")
    mpc("next")
    within(2, lambda: driver.find_element(By.ID, "p-title").text.startswith("Noon"), "the page following `mpc next`")
    shot("player")
    mpc("pause")
    took = within(2, lambda: state() == "pause", "the page showing pause after `mpc pause`")
    print(f"pause seen after {took:.2f} s")
    # The page's own controls drive the player too (a plain form).
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Stop']").click()
    within(5, lambda: state() == "stop", "the page's Stop button")

    driver.get(base + "/")
    shot("home")

    # Log out: the cookie's session ends.
    driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    wait.until(lambda d: "/login" in d.current_url)
    driver.get(album_url)
    assert "/login" in driver.current_url
    print("PASS")
finally:
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
