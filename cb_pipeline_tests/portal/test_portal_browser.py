"""The download portal as a commissioner uses it: headless Chromium against `cb-pipeline serve`.

What belongs here: the real server (a subprocess on loopback, over the warehouse and files the real
pipeline wrote), real users added with `cb-pipeline portal-user add` (password on stdin), and a
real browser: sign in, see only one's HWBs, download a return and check its SHA-256, open the
dashboard and find its charts; and the denials: no session, wrong password, another HWB's id, a
tampered id, a path in the id, a forged CSRF token, a file changed after registration, too many
sign-in attempts; the audit table and the cookie's flags.
What does not: the dashboard's figures (cb_pipeline_tests/dashboard).
"""

import hashlib
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from cb_pipeline.lib.warehouse import Warehouse
from cb_pipeline_tests.portal.browser import make_driver, require_browser
from cb_pipeline_tests.portal.pipeline import clean_env, command

pytestmark = pytest.mark.slow
PASSWORDS = {"alice": "alice-correct-horse-1", "bob": "bob-battery-staple-2"}
SECRET = "test-portal-secret-0123456789abcdef0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(url: str, sql: str):
    for attempt in range(20):  # the server opens the DuckDB file for a moment per request
        w = None
        try:
            w = Warehouse(url, connect_retries=0)
            return w.query_df(sql)
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.25)
        finally:
            if w is not None:
                w.dispose()


@pytest.fixture(scope="module")
def registry(pipeline):
    frame = _query(pipeline.warehouse_url,
                   "select id, 'return' as kind, hwb_code, path, sha256 from return_registry union all "
                   "select id, kind, hwb_code, path, sha256 from dashboard_registry")
    hwbs = sorted(set(frame["hwb_code"]))
    assert len(hwbs) == 2 and len(frame) == 6
    return {(r.hwb_code, r.kind): r for r in frame.itertuples(index=False)}, hwbs


@pytest.fixture(scope="module")
def portal(pipeline, registry, tmp_path_factory):
    require_browser()
    _, (hwb_a, hwb_b) = registry
    root = tmp_path_factory.mktemp("portal")
    users = root / "portal_users.yaml"
    env = clean_env(CB_PORTAL_USERS=str(users), CB_PORTAL_SECRET=SECRET, CB_WAREHOUSE_URL=pipeline.warehouse_url,
                    CB_RETURNS_DIR=str(pipeline.returns_dir), CB_PORTAL_SIGNIN_LIMIT="5/600")
    for name, hwb in (("alice", hwb_a), ("bob", hwb_b)):
        done = subprocess.run(command() + ["portal-user", "add", name, "--hwb", hwb], input=PASSWORDS[name] + "\n",
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    text = users.read_text()
    assert "$argon2id$" in text and not any(p in text for p in PASSWORDS.values())
    assert users.stat().st_mode & 0o077 == 0
    port = _free_port()
    log = open(root / "serve.log", "w")
    server = subprocess.Popen(command() + ["serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if urllib.request.urlopen(base + "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                if server.poll() is not None:
                    raise AssertionError((root / "serve.log").read_text())
                time.sleep(0.1)
        yield base, root / "serve.log"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def browser(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = make_driver(downloads)
    driver.downloads = downloads
    yield driver
    driver.quit()


def submit(driver, element_id: str) -> None:
    """Click a form's button and wait until the browser has loaded the page it leads to."""
    from selenium.webdriver.support.ui import WebDriverWait

    from selenium.common.exceptions import WebDriverException

    for attempt in range(3):
        try:
            page = driver.find_element("tag name", "html")
            driver.find_element("id", element_id).click()
            break
        except WebDriverException:  # the document was swapped under the element (see sign_in)
            if attempt == 2:
                raise
            time.sleep(0.5)

    def page_replaced(_driver) -> bool:
        # Chromium reports a replaced document either as a stale element or as "Node ... does not
        # belong to the document"; both mean the form's page has gone.
        try:
            page.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 15).until(page_replaced)


def sign_in(driver, base: str, name: str, password: str) -> None:
    """Open the sign-in page and submit it once. Filling the form is retried: right after the
    previous form's navigation Chromium can still swap the document under a found element
    ("Node ... does not belong to the document"), which says nothing about the portal."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    for attempt in range(3):
        try:
            driver.get(base + "/signin")
            WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")
            driver.find_element("id", "username").send_keys(name)
            driver.find_element("id", "password").send_keys(password)
            break
        except WebDriverException:
            if attempt == 2:
                raise
            time.sleep(0.5)
    submit(driver, "signin")


def body(driver) -> str:
    return driver.find_element("tag name", "body").text


def wait_for_download(folder: Path, name: str, timeout: float = 20) -> Path:
    end = time.time() + timeout
    while time.time() < end:
        path = folder / name
        if path.exists() and not list(folder.glob("*.crdownload")):
            return path
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded: {list(folder.iterdir())}")


def test_no_session_sees_only_the_sign_in_page(portal, registry, browser):
    base, _ = portal
    entries, (hwb_a, _) = registry
    for path in ("/files", f"/files/{entries[(hwb_a, 'return')].id}", f"/view/{entries[(hwb_a, 'dashboard_html')].id}"):
        browser.get(base + path)
        assert browser.current_url == base + "/signin", path
        assert browser.find_elements("id", "signin-form")
    time.sleep(0.5)
    assert not list(browser.downloads.iterdir())


def test_wrong_password_is_refused(portal, browser):
    base, _ = portal
    sign_in(browser, base, "alice", "not-the-password")
    assert "Wrong user name or password" in body(browser)
    browser.get(base + "/files")
    assert browser.current_url == base + "/signin"


def test_sign_in_lists_only_the_users_hwbs_newest_first(portal, registry, browser):
    base, _ = portal
    entries, (hwb_a, hwb_b) = registry
    sign_in(browser, base, "alice", PASSWORDS["alice"])
    assert browser.current_url == base + "/files"
    rows = browser.find_elements("css selector", "#files tbody tr")
    assert {r.get_attribute("data-hwb") for r in rows} == {hwb_a}
    assert {(r.get_attribute("data-kind"), r.get_attribute("data-id")) for r in rows} == {
        (kind, entries[(hwb_a, kind)].id) for kind in ("return", "dashboard_html", "dashboard_csv")}
    listed = {r.get_attribute("data-id"): r.find_element("css selector", "code.sha256").text for r in rows}
    assert all(listed[entries[(hwb_a, k)].id] == entries[(hwb_a, k)].sha256 for k in ("return", "dashboard_csv"))
    stamps = [r.find_elements("tag name", "td")[3].text for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert "2018-19 Q3" in body(browser) and hwb_b not in body(browser)


def test_download_a_return_and_check_its_sha256(portal, registry, browser):
    base, _ = portal
    entries, (hwb_a, _) = registry
    entry = entries[(hwb_a, "return")]
    sign_in(browser, base, "alice", PASSWORDS["alice"])
    row = browser.find_element("css selector", f'#files tr[data-id="{entry.id}"]')
    listed = row.find_element("css selector", "code.sha256").text
    row.find_element("css selector", "a.download").click()
    path = wait_for_download(browser.downloads, Path(entry.path).name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == listed == entry.sha256


def test_open_the_dashboard_and_find_its_charts(portal, registry, browser):
    base, _ = portal
    entries, (hwb_a, _) = registry
    sign_in(browser, base, "alice", PASSWORDS["alice"])
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element("css selector", f'#files tr[data-id="{entries[(hwb_a, "dashboard_html")].id}"] a.view').click()
    WebDriverWait(browser, 15).until(lambda d: "/view/" in d.current_url and d.find_elements("css selector", "svg"))
    assert browser.current_url.endswith(f"/view/{entries[(hwb_a, 'dashboard_html')].id}")
    charts = browser.find_elements("css selector", "svg.xmr-chart")
    assert len(charts) == 9 and all(c.size["width"] > 300 and c.size["height"] > 100 for c in charts)
    assert browser.execute_script("return document.querySelectorAll('svg.xmr-chart .xmr-point').length") > 50
    # the page fetched nothing: no resource besides the document itself
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def test_another_hwbs_files_cannot_be_reached(portal, registry, browser):
    base, _ = portal
    entries, (_, hwb_b) = registry
    sign_in(browser, base, "alice", PASSWORDS["alice"])
    for kind in ("return", "dashboard_html", "dashboard_csv"):
        for prefix in ("/files/", "/view/"):
            browser.get(base + prefix + entries[(hwb_b, kind)].id)
            assert "No such file" in body(browser), (prefix, kind)
    time.sleep(0.5)
    assert not list(browser.downloads.iterdir())


def test_tampered_ids_and_paths_are_not_found(portal, registry, browser, pipeline):
    base, _ = portal
    entries, (hwb_a, hwb_b) = registry
    good = entries[(hwb_a, "return")].id
    sign_in(browser, base, "alice", PASSWORDS["alice"])
    tampered = [good[:-1] + ("0" if good[-1] != "0" else "1"), good.upper(), good + "0", good[:-2]]
    b_return = entries[(hwb_b, "return")].path
    paths = ["..%2F..%2F..%2Fetc%2Fpasswd", urllib.parse.quote(b_return, safe=""), "%2E%2E%2Fetc%2Fpasswd",
             urllib.parse.quote(str(Path(b_return).relative_to(pipeline.returns_dir)), safe=""),
             good + "%2F..%2F" + entries[(hwb_b, "return")].id]
    for bad in tampered + paths:
        browser.get(f"{base}/files/{bad}")
        text = body(browser)
        assert "No such file" in text or "Not Found" in text, bad
    browser.get(f"{base}/files/../../etc/passwd")  # the browser normalises this to /etc/passwd
    assert "root:" not in body(browser)
    time.sleep(0.5)
    assert not list(browser.downloads.iterdir())


def test_forged_csrf_tokens_are_refused(portal, browser):
    base, _ = portal
    # sign-in form with a forged token and the right password: refused, not signed in
    browser.get(base + "/signin")
    browser.execute_script("document.querySelector('input[name=csrf_token]').value = 'forged'")
    browser.find_element("id", "username").send_keys("alice")
    browser.find_element("id", "password").send_keys(PASSWORDS["alice"])
    submit(browser, "signin")
    assert "Request refused" in body(browser)
    browser.get(base + "/files")
    assert browser.current_url == base + "/signin"
    # sign-out form with a forged token: refused, still signed in
    sign_in(browser, base, "alice", PASSWORDS["alice"])
    browser.execute_script("document.querySelector('input[name=csrf_token]').value = 'forged'")
    submit(browser, "signout")
    assert "Request refused" in body(browser)
    browser.get(base + "/files")
    assert browser.current_url == base + "/files"
    submit(browser, "signout")  # the real token signs out
    browser.get(base + "/files")
    assert browser.current_url == base + "/signin"


def test_a_changed_file_is_refused_and_reported(portal, registry, browser):
    base, log = portal
    entries, (hwb_a, _) = registry
    entry = entries[(hwb_a, "dashboard_csv")]
    path = Path(entry.path)
    original = path.read_bytes()
    path.write_bytes(original + b"tampered\n")
    try:
        sign_in(browser, base, "alice", PASSWORDS["alice"])
        browser.get(f"{base}/files/{entry.id}")
        assert "checksum mismatch" in body(browser)
        time.sleep(0.5)
        assert not list(browser.downloads.iterdir())
    finally:
        path.write_bytes(original)
    assert "SHA-256 mismatch" in log.read_text()


def test_session_cookie_flags(portal):
    base, _ = portal
    response = urllib.request.urlopen(base + "/signin", timeout=5)
    cookie = response.headers["Set-Cookie"]
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags and "secure" in flags and flags["samesite"].lower() == "samesite=strict"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_the_audit_table_records_who_what_when_and_sha256(portal, pipeline, registry):
    entries, (hwb_a, hwb_b) = registry
    audit = _query(pipeline.warehouse_url, "select * from portal_downloads")
    served = audit[(audit["outcome"] == "served") & (audit["registry_id"] == entries[(hwb_a, "return")].id)]
    assert len(served) >= 1
    row = served.iloc[0]
    assert row["username"] == "alice" and row["sha256"] == entries[(hwb_a, "return")].sha256
    assert row["file_name"] == Path(entries[(hwb_a, "return")].path).name and row["downloaded_at"] is not None
    denied = audit[audit["outcome"] == "denied"]
    assert set(denied["hwb_code"]) == {hwb_b} and set(denied["username"]) == {"alice"}
    refused = audit[audit["outcome"] == "refused_checksum"]
    assert len(refused) == 1 and refused.iloc[0]["sha256"] != entries[(hwb_a, "dashboard_csv")].sha256
    assert "viewed" in set(audit["outcome"])


def test_sign_in_attempts_are_rate_limited(portal, browser):
    base, _ = portal
    limited = False
    for _ in range(6):  # limit 5 failures per 600 s (CB_PORTAL_SIGNIN_LIMIT)
        sign_in(browser, base, "bob", "wrong-password-again")
        if "Too many failed sign-in attempts" in body(browser):
            limited = True
            break
    assert limited
    sign_in(browser, base, "bob", PASSWORDS["bob"])  # even the right password waits now
    assert "Too many failed sign-in attempts" in body(browser)
    browser.get(base + "/files")
    assert browser.current_url == base + "/signin"
