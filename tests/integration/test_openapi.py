"""docs/openapi.yaml is a valid OpenAPI document, lists exactly the routes that
src/server/http_server.cpp registers, and describes what a real `clipdex serve` answers: every
endpoint, under both prefixes, is called with good and bad input and each answer is validated
against the schema the file gives for its status."""
import json
import pathlib
import re
import shutil

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import yaml
from openapi_spec_validator import validate as validate_openapi

REPO = pathlib.Path(__file__).resolve().parents[2]
SPEC_FILE = REPO / "docs" / "openapi.yaml"
SERVER_SOURCE = REPO / "src" / "server" / "http_server.cpp"
NPM = REPO / ".cache" / "npm" / "node_modules"
SPEC_URI = "urn:clipdex:openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PREFIXES = ["/v1", "/api/milvus"]
# Twemoji drawings of the gallery: dog face, cat face, red apple.
GALLERY = ["1f436", "1f431", "1f34e"]


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_FILE.read_text())


def test_spec_is_valid_openapi(spec):
    validate_openapi(spec)
    assert spec["openapi"].startswith("3.1")


def registered_routes(source: str) -> set:
    """(method, path) of every `http.Get(...)`-style registration; `prefix + "/x"` is expanded
    with every `route("/prefix")` call."""
    prefixes = re.findall(r'\broute\(\s*"([^"]*)"\s*\)', source)
    routes = set()
    pattern = r'\bhttp\.(Get|Post|Put|Patch|Delete|Options)\(\s*(prefix\s*\+\s*)?"([^"]*)"'
    for method, prefixed, path in re.findall(pattern, source):
        for prefix in prefixes if prefixed else [""]:
            routes.add((method.lower(), prefix + path))
    return routes


def documented_routes(spec) -> set:
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


def test_documented_routes_are_the_registered_routes(spec):
    registered = registered_routes(SERVER_SOURCE.read_text())
    assert len(registered) >= 16, f"the route parser found only {sorted(registered)}: did the source change shape?"
    documented = documented_routes(spec)
    assert registered == documented, (f"registered, not documented: {sorted(registered - documented)}; "
                                      f"documented, not registered: {sorted(documented - registered)}")


def test_both_prefixes_document_the_same_contract(spec):
    """The two prefixes share handlers, so everything but names and summaries must agree."""
    for method, path in documented_routes(spec):
        if not path.startswith("/v1/"):
            continue
        seed = spec["paths"]["/api/milvus" + path[len("/v1"):]][method]
        v1 = spec["paths"][path][method]
        strip = lambda op: {k: v for k, v in op.items() if k not in ("tags", "operationId", "summary")}
        assert strip(v1) == strip(seed), path


class Contract:
    """Validates answers against the response schemas of the spec."""

    def __init__(self, spec):
        self.spec = spec
        resource = referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource(SPEC_URI, resource)
        self.seen = set()

    def pointer(self, ref: str):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def validator(self, pointer: str):
        return jsonschema.Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=self.registry)

    def validate_schema(self, pointer: str, body):
        errors = sorted(self.validator(pointer).iter_errors(body), key=str)
        assert not errors, f"{pointer}: {errors[0].message} in {json.dumps(body)[:400]}"

    def request_is_valid(self, method: str, path: str, request) -> bool:
        ref = self.spec["paths"][path][method]["requestBody"]["$ref"]
        return self.validator(ref + "/content/application~1json/schema").is_valid(request)

    def check(self, method: str, path: str, answer, declared=True, request=None):
        """answer: (status, headers, body). The status must be declared for the operation
        (unless declared=False: then `default` may cover it) and the body match its schema.
        `request`, the JSON body sent, must match the operation's request schema."""
        status, headers, body = answer
        operation = self.spec["paths"][path][method]
        if request is not None:
            ref = operation["requestBody"]["$ref"]
            self.validate_schema(ref + "/content/application~1json/schema", request)
        assert headers.get("Content-Type", "").startswith("application/json"), headers
        responses = operation["responses"]
        key = str(status) if str(status) in responses else "default"
        assert key in responses, f"{method.upper()} {path} answered {status}, which the spec does not declare: {body}"
        assert key != "default" or not declared, f"{method.upper()} {path}: {status} is only covered by default"
        ref = responses[key]["$ref"]
        self.validate_schema(ref + "/content/application~1json/schema", body)
        if status >= 400:
            assert body["success"] is False and body["error"], body
        self.seen.add((method, path, status // 100))
        return body

    def expect(self, method, path, answer, status, context=None):
        """Asserts that `answer` has `status`, then checks it against the contract; the body."""
        assert answer[0] == status, (context, answer)
        return self.check(method, path, answer)


@pytest.fixture(scope="module")
def contract(spec):
    return Contract(spec)


@pytest.fixture(scope="module")
def files(tmp_path_factory, serve_folder):
    """A folder served on loopback: three drawings, a truncated SVG and a text file."""
    folder = tmp_path_factory.mktemp("openapi files")
    if not (NPM / "@twemoji/svg").is_dir():
        pytest.fail("npm test data missing: run scripts/deps.sh")
    for code in GALLERY:
        shutil.copyfile(NPM / "@twemoji/svg" / f"{code}.svg", folder / f"{code}.svg")
    svg = (folder / "1f436.svg").read_bytes()
    (folder / "truncated.svg").write_bytes(svg[: len(svg) // 2])
    (folder / "notes.txt").write_text("not an image")
    served = serve_folder(folder)
    served.folder = folder
    yield served
    served.stop()


@pytest.fixture(scope="module")
def server(clipdex_cli, start_server, files, tmp_path_factory):
    """A server on an indexed gallery that may fetch loopback URLs (the file server above)."""
    gallery = tmp_path_factory.mktemp("openapi gallery")
    for code in GALLERY:
        shutil.copyfile(files.folder / f"{code}.svg", gallery / f"{code}.svg")
    cli = clipdex_cli(tmp_path_factory.mktemp("openapi db") / "api.db")
    cli.run("index", gallery)
    srv = start_server(cli, "--allow-private-urls")
    yield srv
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def guarded_server(clipdex_cli, start_server, tmp_path_factory):
    """A server with a bearer token and a 4 KiB body limit."""
    srv = start_server(clipdex_cli(tmp_path_factory.mktemp("openapi auth") / "auth.db"),
                       serve_args=["--bearer-token", "s3cret", "--max-body", 4096])
    yield srv
    assert srv.stop() == 0


AUTH = {"Authorization": "Bearer s3cret"}


def call(srv, method, path, body=None, query="", headers=None, raw=None):
    if body is not None:
        headers = {"Content-Type": "application/json", **(headers or {})}
    return srv.exchange(method.upper(), path + query, body=body, headers=headers, raw=raw)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_health(server, guarded_server, contract, prefix, emoji_model_dir):
    path = prefix + "/health"
    body = contract.check("get", path, call(server, "get", path))
    assert body["status"] == "healthy" and body["model"] == str(emoji_model_dir)  # the folder, absolute
    body = contract.check("get", path, call(guarded_server, "get", path))
    assert body["code"] == "unauthorized"
    contract.check("get", path, call(guarded_server, "get", path, headers=AUTH))
    assert call(guarded_server, "get", path, headers={"Authorization": "Bearer wrong"})[0] == 401


@pytest.mark.parametrize("prefix", PREFIXES)
def test_stats(server, guarded_server, contract, prefix):
    path = prefix + "/stats"
    body = contract.check("get", path, call(server, "get", path))
    assert body["total_records"] >= len(GALLERY) and body["dimension"] == 128 and body["backend"] == "embedded"
    assert contract.check("get", path, call(guarded_server, "get", path))["code"] == "unauthorized"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_collection_info(server, guarded_server, contract, prefix):
    path = prefix + "/collection/info"
    body = contract.check("get", path, call(server, "get", path))
    assert [f["name"] for f in body["fields"]] == ["id", "url", "description", "vector", "added_at", "updated_at"]
    assert body["index"]["index_type"] == "HNSW" and set(body["index"]["params"]) == {"M", "efConstruction"}
    assert contract.check("get", path, call(guarded_server, "get", path))["code"] == "unauthorized"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_add(server, files, contract, prefix):
    path = prefix + "/add"
    new_id = 1000 + PREFIXES.index(prefix)
    request = {"id": str(new_id), "url": f"{files.base}/1f34e.svg", "description": "an apple"}
    body = contract.check("post", path, call(server, "post", path, request), request=request)
    assert body["id"] == new_id
    rows = {row["id"]: row for row in call(server, "get", prefix + "/data", query="?limit=100000")[2]["data"]}
    assert rows[new_id]["description"] == "an apple" and rows[new_id]["url"].endswith("1f34e.svg")
    # Replacing an existing id is allowed.
    request = {"id": new_id, "url": f"{files.base}/1f431.svg", "description": None}
    contract.check("post", path, call(server, "post", path, request), request=request)
    # (request, status, whether the request schema accepts it: the server's own checks go further)
    for request, status, well_formed in [({"id": 1}, 400, False),
                                         ({"url": f"{files.base}/1f436.svg"}, 400, False),
                                         ({"id": 1.5, "url": f"{files.base}/1f436.svg"}, 400, False),
                                         ({"id": 2**64 - 1, "url": f"{files.base}/1f436.svg"}, 400, False),
                                         ({"id": "1x", "url": f"{files.base}/1f436.svg"}, 400, False),
                                         ({"id": 1, "url": "file:///etc/passwd"}, 400, True),
                                         ({"id": 1, "url": f"{files.base}/notes.txt"}, 400, True),
                                         ({"id": 1, "url": f"{files.base}/missing.svg"}, 404, True),
                                         ({"id": 1, "url": f"{files.base}/truncated.svg"}, 422, True)]:
        contract.expect("post", path, call(server, "post", path, request), status, request)
        assert contract.request_is_valid("post", path, request) == well_formed, request
    for raw in [b"[1, 2]", b"{not json", b""]:
        contract.expect("post", path, call(server, "post", path, raw=raw), 400, raw)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_batch_add(server, files, contract, prefix):
    path = prefix + "/batch/add"
    first = 2000 + 10 * PREFIXES.index(prefix)
    images = [{"id": first, "url": f"{files.base}/1f436.svg"},
              {"id": first + 1, "url": f"{files.base}/missing.svg"},
              {"id": "x", "url": f"{files.base}/1f436.svg"},
              "not an object"]
    body = contract.check("post", path, call(server, "post", path, {"images": images}))
    assert (body["success"], body["total"], body["succeeded"], body["failed"]) == (False, 4, 1, 3)
    assert [r["success"] for r in body["results"]] == [True, False, False, False]
    assert body["results"][1]["id"] == first + 1 and "404" in body["results"][1]["error"]
    body = contract.check("post", path, call(server, "post", path, {"images": images[:1]}),
                          request={"images": images[:1]})
    assert body["success"] is True
    contract.expect("post", path, call(server, "post", path, {"images": {"id": 1}}), 400)
    too_many = {"images": [{"id": i, "url": "https://example.invalid/x.svg"} for i in range(1001)]}
    assert contract.expect("post", path, call(server, "post", path, too_many), 413)["code"] == "too_large"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_data(server, contract, prefix):
    path = prefix + "/data"
    body = contract.check("get", path, call(server, "get", path))
    assert (body["limit"], body["offset"]) == (100, 0) and body["count"] == len(body["data"]) >= len(GALLERY)
    assert [row["id"] for row in body["data"]] == sorted(row["id"] for row in body["data"])
    assert all("vector" not in row for row in body["data"])
    body = contract.check("get", path, call(server, "get", path, query="?include_vectors=true&limit=2&offset=1"))
    assert body["count"] == 2 and all(len(row["vector"]) == 128 for row in body["data"])
    assert all(row["source"] in ("file", "url") for row in body["data"])  # a dynamic field
    for query in ["?limit=abc", "?limit=100001", "?offset=-1", "?include_vectors=maybe"]:
        contract.expect("get", path, call(server, "get", path, query=query), 400, query)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_search(server, files, contract, prefix):
    path = prefix + "/search"
    request = {"text": "dog", "k": 2, "image_url": None}
    body = contract.check("post", path, call(server, "post", path, request), request=request)
    assert body["query"] == "dog" and body["k"] == 2 and body["count"] == 2
    request = {"text": "cat", "top_k": 1, "filter": 'url like "%1f43%"'}
    body = contract.check("post", path, call(server, "post", path, request), request=request)
    assert body["k"] == 1 and "1f43" in body["results"][0]["url"]
    request = {"image_url": f"{files.base}/1f436.svg", "k": 1}
    body = contract.check("post", path, call(server, "post", path, request), request=request)
    assert body["image_url"].endswith("1f436.svg") and body["results"][0]["url"].endswith("1f436.svg")
    dog = (files.folder / "1f436.svg").read_bytes()
    answer = contract.check("post", path, server.upload_exchange(path, "dog face.svg", dog, {"k": 3}))
    assert answer["filename"] == "dog face.svg" and answer["count"] == 3
    assert answer["results"][0]["url"].endswith("1f436.svg")
    for request, status, well_formed in [({"text": "dog", "k": 0}, 400, False),
                                         ({"text": "dog", "k": 1001}, 400, False),
                                         ({"text": "dog", "k": "5"}, 400, False),
                                         ({"k": 5}, 400, False), ({"text": "", "image_url": None}, 400, False),
                                         ({"text": "dog", "image_url": f"{files.base}/1f436.svg"}, 400, False),
                                         ({"text": "dog", "filter": "id >"}, 400, True),
                                         ({"image_url": f"{files.base}/missing.svg"}, 404, True),
                                         ({"image_url": f"{files.base}/truncated.svg"}, 422, True)]:
        contract.expect("post", path, call(server, "post", path, request), status, request)
        assert contract.request_is_valid("post", path, request) == well_formed, request
    for fields, content, status in [({"k": "5abc"}, dog, 400), ({"k": "0"}, dog, 400),
                                    ({"k": "99999999999999999999"}, dog, 400),
                                    ({}, dog[: len(dog) // 2], 422), ({}, b"", 400)]:
        contract.expect("post", path, server.upload_exchange(path, "q.svg", content, fields), status, fields)
    answer = server.upload_exchange(path, "q.svg", dog, {}, field="picture")
    assert "'image'" in contract.expect("post", path, answer, 400)["error"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_delete(server, files, contract, prefix):
    path = prefix + "/delete"
    first = 3000 + 10 * PREFIXES.index(prefix)
    for new_id in (first, first + 1):
        assert call(server, "post", prefix + "/add", {"id": new_id, "url": f"{files.base}/1f436.svg"})[0] == 200
    body = contract.check("delete", path, call(server, "delete", path, {"id": first}), request={"id": first})
    assert body["id"] == first
    body = contract.check("delete", path, call(server, "delete", path, query=f"?id={first + 1}"))
    assert body["id"] == first + 1
    for request, query, status in [({"id": first}, "", 404), (None, f"?id={first}", 404),
                                   ({"id": "abc"}, "", 400), (None, "?id=abc", 400), (None, "", 400),
                                   ({"ids": [1]}, "", 400)]:
        contract.expect("delete", path, call(server, "delete", path, request, query=query), status, (request, query))


def test_http_layer_errors_have_the_error_shape(server, guarded_server, contract):
    error_schema = "#/components/schemas/Error"
    status, _, body = call(server, "get", "/v1/nothing-here")
    assert status == 404 and body["code"] == "not_found" and "/v1/nothing-here" in body["error"]
    contract.validate_schema(error_schema, body)
    status, headers, body = call(server, "put", "/v1/data", raw=b"")
    assert status == 405 and body["code"] == "method_not_allowed" and "PUT /v1/data" in body["error"]
    assert headers["Allow"] == "GET"
    contract.validate_schema(error_schema, body)
    # A method HTTP servers do not know: the HTTP layer refuses it before routing.
    status, _, body = call(server, "brew", "/v1/data")
    assert status == 400 and body["code"] == "http_error" and "BREW" in body["error"], body
    contract.validate_schema(error_schema, body)
    # Bodies above --max-body are refused before the token is looked at.
    answer = call(guarded_server, "post", "/v1/search", {"text": "x" * 8192}, headers=AUTH)
    assert contract.expect("post", "/v1/search", answer, 413)["code"] == "too_large"
    answer = call(guarded_server, "post", "/api/milvus/add", {"id": 1, "url": "x" * 8192})
    contract.expect("post", "/api/milvus/add", answer, 413)


def test_every_operation_was_seen_succeeding_and_failing(contract, request):
    """Runs last in this file: each documented operation answered at least one 2xx and one 4xx."""
    if request.config.option.keyword or request.config.option.markexpr:
        pytest.skip("only meaningful when the whole file runs")
    missing = {(m, p, c) for m, p in documented_routes(contract.spec) for c in (2, 4)} - contract.seen
    assert not missing, sorted(missing)
