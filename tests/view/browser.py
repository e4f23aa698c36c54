"""The view in a real browser: Debian's headless Chromium, driven by Selenium through its
chromedriver, against a stack the Rust test (tests/view.rs) started. Each command checks
one thing and prints what the Rust side needs; a failed check exits non-zero saying why.

    browser.py live URL EXECUTION_PATH        statuses turn Executing -> Succeeded, no reload
    browser.py failed URL STEP_PATH STEP TEXT...  the step's panel shows every TEXT
    browser.py rerun URL EXECUTION_PATH STEP  reruns STEP from the page; prints the new path
    browser.py report FILE STEPS...           the report, offline, shows every step
    browser.py ready URL EXECUTION_PATH       prints how long the page took to load (ms)
"""

import sys
from urllib.parse import urlparse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DEADLINE = 30


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def nodes(driver):
    """Step name -> the status class of its box in the graph."""
    found = {}
    for link in driver.find_elements(By.CSS_SELECTOR, "svg.graph a[data-step]"):
        rect = link.find_element(By.CSS_SELECTOR, "rect")
        found[link.get_attribute("data-step")] = rect.get_attribute("class").split()[-1]
    return found


def live(url, path):
    driver = browser()
    try:
        driver.get(url)  # the printed URL: sets the token's cookie
        driver.get(url.split("/?")[0] + path)
        seen = nodes(driver)
        if seen.get("Prepare") != "executing":
            sys.exit(f"the running step is not shown as executing: {seen}")
        driver.execute_script("window.notReloaded = true")
        WebDriverWait(driver, DEADLINE).until(lambda d: nodes(d).get("Read") == "succeeded")
        if not driver.execute_script("return window.notReloaded === true"):
            sys.exit("the page reloaded instead of following the execution")
        print(sorted(nodes(driver).items()))
    finally:
        driver.quit()


def failed(url, path, step, texts):
    driver = browser()
    try:
        driver.get(url)
        driver.get(url.split("/?")[0] + path)
        panel = driver.find_element(By.ID, f"step-{step}")
        if panel.get_attribute("open") is None:
            sys.exit("the step's own URL did not open its panel")
        shown = panel.text
        for text in texts:
            if text not in shown:
                sys.exit(f"the panel of {step} does not show {text!r}:\n{shown}")
        print("shown")
    finally:
        driver.quit()


def rerun(url, path, step):
    driver = browser()
    try:
        driver.get(url)
        driver.get(url.split("/?")[0] + path)
        form = driver.find_element(By.ID, "rerun")
        form.find_element(By.NAME, "steps").send_keys(step)
        form.find_element(By.TAG_NAME, "button").click()
        WebDriverWait(driver, DEADLINE).until(lambda d: d.current_url.rstrip("/") != (url.split("/?")[0] + path))
        print(urlparse(driver.current_url).path)
    finally:
        driver.quit()


def report(file, steps):
    driver = browser()
    try:
        # No network at all: the report needs none.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        driver.get("file://" + file)
        shown = nodes(driver)
        missing = [s for s in steps if s not in shown]
        if missing:
            sys.exit(f"the report does not show {missing}: {shown}")
        panels = [p.get_attribute("id") for p in driver.find_elements(By.CSS_SELECTOR, "details.panel")]
        if sorted(panels) != sorted(f"step-{s}" for s in steps):
            sys.exit(f"the report's panels are {panels}")
        print(sorted(shown.items()))
    finally:
        driver.quit()


def ready(url, path):
    """Prints how long the page took to load, in ms (the bench's figure)."""
    driver = browser()
    try:
        driver.get(url)
        driver.get(url.split("/?")[0] + path)
        WebDriverWait(driver, DEADLINE).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.graph"))
        print(driver.execute_script(
            "var n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;"
        ))
    finally:
        driver.quit()


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "live":
        live(*args)
    elif command == "failed":
        failed(args[0], args[1], args[2], args[3:])
    elif command == "rerun":
        rerun(*args)
    elif command == "ready":
        ready(*args)
    elif command == "report":
        report(args[0], args[1:])
    else:
        sys.exit(f"unknown command {command}")
