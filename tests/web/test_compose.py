"""docker-compose.yml and the Dockerfile agree with deploy/: no Docker engine runs in CI, so this is where
a port, a variable or a path that drifted apart is caught."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
TEMPLATE = ROOT / "deploy" / "nginx" / "warehouse.conf.template"
TEMPLATE_VARIABLES = {"WAREHOUSE_LISTEN", "WAREHOUSE_WEB_UPSTREAM", "WAREHOUSE_WATCH_UPSTREAM"}


def test_only_the_proxy_publishes_a_port():
    assert [name for name, service in SERVICES.items() if "ports" in service] == ["proxy"]


def test_the_template_uses_no_environment_variable_but_its_three():
    # The image's envsubst would replace any other one that happens to be set (nginx's own are lowercase).
    assert set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", TEMPLATE.read_text())) == TEMPLATE_VARIABLES


def test_the_proxy_renders_the_template_for_the_servers_compose_starts():
    proxy = SERVICES["proxy"]
    environment = proxy["environment"]

    assert f"./{TEMPLATE.relative_to(ROOT)}:/etc/nginx/templates/default.conf.template:ro" in proxy["volumes"]
    assert TEMPLATE_VARIABLES <= set(environment)
    assert all(re.match(environment["NGINX_ENVSUBST_FILTER"], name) for name in TEMPLATE_VARIABLES)
    assert proxy["ports"] == [f"${{WEB_PORT:-8000}}:{environment['WAREHOUSE_LISTEN']}"]
    assert environment["WAREHOUSE_WEB_UPSTREAM"] == f"web:{SERVICES['web']['environment']['PORT']}"
    assert environment["WAREHOUSE_WATCH_UPSTREAM"] == f"watch:{SERVICES['watch']['environment']['PORT']}"


def test_the_servers_run_with_the_files_in_deploy():
    web, watch = SERVICES["web"], SERVICES["watch"]

    assert "gunicorn -c deploy/gunicorn.conf.py warehouse.wsgi" in web["command"][-1]
    assert watch["command"] == "gunicorn -c deploy/gunicorn-watch.conf.py warehouse.asgi:application".split()
    assert web["expose"] == [web["environment"]["PORT"]]
    assert watch["expose"] == [watch["environment"]["PORT"]]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY deploy/ deploy/" in dockerfile
    assert 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "warehouse.wsgi"]' in dockerfile
