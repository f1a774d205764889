"""Sign in to a running Warehouse as a person would, and open a model page. Used by .ci/run.

    python scripts/smoke_signin.py http://127.0.0.1:8000 [--wait SECONDS]

Waits for the sign-in page, signs in as the demo viewer (with the CSRF token, like a browser), then asks
for /models/fraud-scorer/ and expects 200. Exits non-zero, saying why, on any other answer.
"""

import argparse
import http.cookiejar
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

USERNAME = "viewer"
PASSWORD = "warehouse-demo"
MODEL_PAGE = "/models/fraud-scorer/"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--wait", type=float, default=0, help="Seconds to wait for the server to answer.")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    sign_in = f"{base}/accounts/sign-in/"

    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))

    deadline = time.monotonic() + args.wait
    while True:
        try:
            page = opener.open(sign_in, timeout=10)
            break
        except (urllib.error.URLError, ConnectionError) as error:
            if time.monotonic() > deadline:
                print(f"FAIL: the sign-in page did not answer: {error}")
                return 1
            time.sleep(1)
    print(f"GET {sign_in} -> {page.status}")
    if page.status != 200:
        return 1

    csrf = next((cookie.value for cookie in cookies if cookie.name == "csrftoken"), None)
    if not csrf:
        print("FAIL: the sign-in page set no csrftoken cookie")
        return 1
    form = urllib.parse.urlencode(
        {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": csrf, "next": MODEL_PAGE}
    ).encode()
    request = urllib.request.Request(sign_in, data=form, headers={"Referer": sign_in})
    try:
        answer = opener.open(request, timeout=30)
    except urllib.error.HTTPError as error:
        print(f"FAIL: POST {sign_in} -> {error.code}")
        return 1
    # A successful sign-in redirects to `next`; a refused one shows the form again at the sign-in address.
    print(f"POST {sign_in} as {USERNAME} -> {answer.status} at {answer.url}")
    if not any(cookie.name == "sessionid" for cookie in cookies):
        print("FAIL: signing in did not start a session (wrong demo password, or the demo is not loaded?)")
        return 1

    try:
        model = opener.open(f"{base}{MODEL_PAGE}", timeout=30)
    except urllib.error.HTTPError as error:
        print(f"FAIL: GET {MODEL_PAGE} -> {error.code}")
        return 1
    body = model.read().decode("utf-8", "replace")
    print(f"GET {base}{MODEL_PAGE} -> {model.status}")
    if model.status != 200 or "fraud-scorer" not in body:
        print("FAIL: the model page did not show fraud-scorer")
        return 1
    print("OK: signed in and opened the model page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
