"""End to end in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): type a French
query, see the expected hit with its highlights, open its context and its explanation; hostile text in a
hit is shown as text, never run. Screenshots go to the pytest tmp dir (and to $PISTEUR_SCREENSHOT_DIR if
set)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("needs chromium and chromedriver (apt-get install chromium chromium-driver)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("fastapi", reason="the web page is served by the serve extra (pip install 'pisteur[serve]')")
pytest.importorskip("mcp", reason="the serve extra (pip install 'pisteur[serve]')")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from .conftest import DOCS, MODEL  # noqa: E402
from .test_mcp import UvicornThread, _free_port  # noqa: E402

XSS = 'Alerte <img src=x onerror="window.__xss=1"> et <script>window.__xss=2</script> au commissariat.'


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=fr-FR"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=DriverService(executable_path=DRIVER), options=opts)
    yield drv
    drv.quit()


@pytest.fixture
def site(tmp_path: Path):
    from pisteur.indexer import index_paths
    from pisteur.serve.http_api import create_app
    from pisteur.serve.service import Service

    src = tmp_path / "docs"
    shutil.copytree(DOCS, src)
    (src / "zz-alerte.md").write_text(XSS + "\n", encoding="utf-8")
    idx = tmp_path / "index"
    index_paths(idx, [src], model=MODEL)
    svc = Service(idx)
    port = _free_port()
    with UvicornThread(create_app(svc, mcp=False), port):
        yield f"http://127.0.0.1:{port}/"


def _shot(drv, tmp_path: Path, name: str) -> Path:
    p = tmp_path / f"{name}.png"
    drv.save_screenshot(str(p))
    out = os.environ.get("PISTEUR_SCREENSHOT_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, Path(out) / p.name)
    return p


def test_search_context_and_explain(browser, site, tmp_path: Path):
    drv = browser
    wait = WebDriverWait(drv, 20)
    drv.get(site)
    wait.until(lambda d: "passages" in d.find_element(By.ID, "status").text)
    box = drv.find_element(By.ID, "q")
    box.send_keys("rendez-vous devant la gare")
    drv.find_element(By.ID, "go").click()
    first = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#results li.hit")))
    assert "rendez-vous.md" in first.find_element(By.CSS_SELECTOR, ".where").text
    marks = [m.text.lower() for m in first.find_elements(By.CSS_SELECTOR, ".snippet mark")]
    assert "gare" in marks and "rendez-vous" in marks
    first.find_element(By.CSS_SELECTOR, ".why-btn").click()
    why = first.find_element(By.CSS_SELECTOR, ".why")
    assert why.is_displayed() and "score final" in why.text
    first.find_element(By.CSS_SELECTOR, ".ctx-btn").click()
    ctx = wait.until(lambda d: first.find_element(By.CSS_SELECTOR, ".context .passage.is-hit"))
    assert "lendemain soir" in ctx.text
    assert ctx.find_elements(By.CSS_SELECTOR, "mark")
    shot = _shot(drv, tmp_path, "web-search")
    assert shot.stat().st_size > 10_000


def test_hostile_text_is_displayed_not_run(browser, site, tmp_path: Path):
    drv = browser
    wait = WebDriverWait(drv, 20)
    drv.get(site + "?q=alerte+commissariat")
    first = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#results li.hit")))
    assert "<img src=x" in first.find_element(By.CSS_SELECTOR, ".snippet").text
    first.find_element(By.CSS_SELECTOR, ".ctx-btn").click()
    wait.until(lambda d: "<script>" in first.find_element(By.CSS_SELECTOR, ".context").text)
    assert drv.execute_script("return window.__xss === undefined")
    assert not drv.find_elements(By.CSS_SELECTOR, "#results img, #results script")
    _shot(drv, tmp_path, "web-xss")
