import hashlib

import pytest

from gnomon.ingest.errors import NoFilesFound
from gnomon.ingest.files import expand_paths, fingerprint


def _touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_glob_in_one_folder(kit):
    _touch(kit.root, "data/b.csv", "data/a.csv", "data/c.txt", "data/sub/d.csv")
    found = expand_paths(kit.spec(path="data/*.csv"), project_dir=kit.root)
    assert found == [kit.root / "data/a.csv", kit.root / "data/b.csv"]


def test_double_star_crosses_folders(kit):
    _touch(kit.root, "data/a.csv", "data/x/b.csv", "data/x/y/c.csv", "other/d.csv")
    found = expand_paths(kit.spec(path="data/**/*.csv"), project_dir=kit.root)
    assert [p.relative_to(kit.root).as_posix() for p in found] == [
        "data/a.csv",
        "data/x/b.csv",
        "data/x/y/c.csv",
    ]


def test_list_of_patterns_is_deduplicated_and_sorted(kit):
    _touch(kit.root, "data/a.csv", "data/b.csv", "more/c.csv")
    spec = kit.spec(path=["more/*.csv", "data/*.csv", "data/a.csv"])
    found = expand_paths(spec, project_dir=kit.root)
    assert found == sorted(found)
    assert [p.name for p in found] == ["a.csv", "b.csv", "c.csv"]


def test_literal_path(kit):
    _touch(kit.root, "data/orders.csv")
    assert expand_paths(kit.spec(path="data/orders.csv"), project_dir=kit.root) == [
        kit.root / "data/orders.csv"
    ]


def test_absolute_pattern(kit, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    _touch(elsewhere, "x.csv")
    found = expand_paths(kit.spec(path=str(elsewhere / "*.csv")), project_dir=kit.root)
    assert found == [(elsewhere / "x.csv").resolve()]


def test_wildcards_skip_dot_names_but_literals_do_not(kit):
    _touch(kit.root, "data/a.csv", "data/.~lock.a.csv#", "data/.hidden.csv", "data/.git/x.csv")
    found = expand_paths(kit.spec(path="data/**/*.csv"), project_dir=kit.root)
    assert [p.name for p in found] == ["a.csv"]
    literal = expand_paths(kit.spec(path="data/.hidden.csv"), project_dir=kit.root)
    assert [p.name for p in literal] == [".hidden.csv"]


def test_folders_are_not_files(kit):
    _touch(kit.root, "data/sub/a.csv")
    with pytest.raises(NoFilesFound):
        expand_paths(kit.spec(path="data/sub"), project_dir=kit.root)
    with pytest.raises(NoFilesFound):
        expand_paths(kit.spec(path="data/*"), project_dir=kit.root)


def test_nothing_found_names_the_patterns(kit):
    _touch(kit.root, "data/a.txt")
    with pytest.raises(NoFilesFound) as caught:
        expand_paths(kit.spec(path=["data/*.csv", "in/**/*.json"]), project_dir=kit.root)
    error = caught.value
    assert "'data/*.csv'" in error.message
    assert "'in/**/*.json'" in error.message
    assert error.details["patterns"] == ["data/*.csv", "in/**/*.json"]
    assert error.hint


def test_fingerprint_is_the_sha256_of_the_bytes(kit):
    data = bytes(range(256)) * 5000
    path = kit.write("blob.bin", data)
    assert fingerprint(path) == hashlib.sha256(data).hexdigest()


def test_fingerprint_ignores_the_name(kit):
    first = kit.write("a.csv", b"id\n1\n")
    second = kit.write("b.csv", b"id\n1\n")
    third = kit.write("c.csv", b"id\n2\n")
    assert fingerprint(first) == fingerprint(second) != fingerprint(third)
