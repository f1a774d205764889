"""Which targets the warehouse sends to: checked on the URL at creation, and on every address at delivery."""

import socket

import pytest

from warehouse.webhooks.targets import address_kind, numeric_address, url_problems


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:a00:1::", "private"),  # 6to4 wrapping 10.0.0.1
        ("not-an-address", "unreadable"),
    ],
)
def test_it_names_what_is_not_public(address, kind):
    assert address_kind(address) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert address_kind(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8000/hook",
        "https://api.localhost/hook",
        "http://0.0.0.0/",
    ],
)
def test_a_literal_private_target_is_refused_unless_allowed(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    [problem] = url_problems(url)
    assert "not sent to loopback, link-local or private addresses" in problem

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert url_problems(url) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "Give the URL"),
        ("ftp://hooks.example.com/", "Use an https://"),
        ("file:///etc/passwd", "Use an https://"),
        ("hooks.example.com/in", "Use an https://"),
        ("https://user:pass@hooks.example.com/", "no user name or password"),
        ("https:///path-only", "names no host"),
        ("https://hooks.example.com:99999/", "port"),
        ("https://hooks.example.com/a b", "no spaces"),
        ("https://hooks.example.com/" + "a" * 2000, "At most 2000"),
    ],
)
def test_it_refuses_malformed_urls(url, problem):
    [found] = url_problems(url)
    assert problem in found


def test_a_host_name_is_checked_when_it_is_resolved_not_before(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert url_problems("https://hooks.example.com/warehouse?token=abc") == []


@pytest.mark.parametrize(
    "host",
    [
        "0x7f000001",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        "0x7f.1",
        "0",
        "10.1",
        "0251.0376.0251.0376",
        "\u2460\u2461\u2466.0.0.1",
        "0x08080808",
    ],
)
def test_a_number_is_read_as_the_operating_system_reads_it(host):
    # The resolver a delivery would use, asked for numbers only (no lookup leaves the machine).
    [(*_, (resolved, _port))] = socket.getaddrinfo(
        host, 80, family=socket.AF_INET, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
    )
    assert numeric_address(host) == resolved


@pytest.mark.parametrize(
    "host", ["hooks.example.com", "deadbeef", "face.b00c", "1.2.3.4.5", "0x", "08.0.0.1"]
)
def test_a_name_is_not_read_as_a_number(host):
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(host, 80, family=socket.AF_INET, flags=socket.AI_NUMERICHOST)
    assert numeric_address(host) is None


def test_it_names_the_address_a_spelling_stands_for(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    [problem] = url_problems("http://0x7f000001/hook")
    assert problem.startswith("0x7f000001 (127.0.0.1) is a loopback address")
    [problem] = url_problems("http://0/hook")
    assert problem.startswith("0 (0.0.0.0) is an unspecified address")
