"""`ksbuild validate` and `ksbuild rules` as a user in a repository of kickstarts runs them: configuration files,
exit codes, JSON and SARIF, the pre-commit hook, and what a kickstart-only run imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from builder.rules import CATALOGUE
from tests.helpers import REPO, run_cli

LINT = Path(__file__).parent / "data" / "kickstarts" / "lint"


def repo_with(tmp_path: Path, *names: str) -> Path:
    """A folder like a user's repository: the named kickstarts under hosts/."""
    (tmp_path / "hosts").mkdir(exist_ok=True)
    for name in names:
        shutil.copy(LINT / name, tmp_path / "hosts" / name)
    return tmp_path


def test_exit_code_follows_errors_only_and_strict_makes_warnings_count(tmp_path: Path) -> None:
    repo_with(tmp_path, "bond-vlan-bridge.ks", "raid1-lvm-defects.ks")
    warnings_only = run_cli("validate", "hosts/bond-vlan-bridge.ks", cwd=tmp_path)
    assert warnings_only.returncode == 0, warnings_only.stdout + warnings_only.stderr
    assert "hosts/bond-vlan-bridge.ks:10: KS105 warning: --nameserver is given 2 times" in warnings_only.stdout
    assert "hosts/bond-vlan-bridge.ks: ok (2 warning(s))" in warnings_only.stdout
    strict = run_cli("validate", "--strict", "hosts/bond-vlan-bridge.ks", cwd=tmp_path)
    assert strict.returncode == 1
    assert "hosts/bond-vlan-bridge.ks:10: KS105 error:" in strict.stdout
    errors = run_cli("validate", "hosts/raid1-lvm-defects.ks", cwd=tmp_path)
    assert errors.returncode == 1
    assert "hosts/raid1-lvm-defects.ks: 9 error(s), 1 warning(s)" in errors.stdout
    assert "Traceback" not in errors.stderr


def test_select_and_ignore_on_the_command_line(tmp_path: Path) -> None:
    repo_with(tmp_path, "raid1-lvm-defects.ks")
    only_secrets = run_cli("validate", "--select", "KS3", "hosts/raid1-lvm-defects.ks", "--format", "json",
                           cwd=tmp_path)
    rules = [f["rule"] for f in json.loads(only_secrets.stdout)["inputs"][0]["findings"]]
    assert rules == ["KS301", "KS302", "KS304", "KS303"]
    no_storage_or_secrets = run_cli("validate", "--ignore", "KS2,KS3", "hosts/raid1-lvm-defects.ks", cwd=tmp_path)
    assert no_storage_or_secrets.returncode == 0, no_storage_or_secrets.stdout
    unknown = run_cli("validate", "--ignore", "KS9", "hosts/raid1-lvm-defects.ks", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "--ignore: 'KS9' matches no rule" in unknown.stderr


def test_ksbuild_toml_found_upward_and_pyproject_table(tmp_path: Path) -> None:
    repo_with(tmp_path, "bond-vlan-bridge.ks")
    (tmp_path / ".ksbuild.toml").write_text('ignore = ["KS102"]\nstrict = true\n')
    # From anywhere: the search starts at the file's folder.
    result = run_cli("validate", str(tmp_path / "hosts/bond-vlan-bridge.ks"), cwd=REPO)
    assert result.returncode == 1  # strict: the remaining warning is an error
    assert "KS102" not in result.stdout and "KS105 error" in result.stdout

    (tmp_path / ".ksbuild.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "site"\n\n[tool.ksbuild]\nselect = ["KS102"]\n')
    result = run_cli("validate", str(tmp_path / "hosts/bond-vlan-bridge.ks"), cwd=REPO)
    assert result.returncode == 0
    assert "KS102 warning" in result.stdout and "KS105" not in result.stdout
    # The command line comes after the file: --extend-select adds to its selection.
    result = run_cli("validate", "--extend-select", "KS105", str(tmp_path / "hosts/bond-vlan-bridge.ks"), cwd=REPO)
    assert "KS102 warning" in result.stdout and "KS105 warning" in result.stdout


def test_a_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    repo_with(tmp_path, "bond-vlan-bridge.ks")
    (tmp_path / ".ksbuild.toml").write_text('ignor = ["KS1"]\n')
    result = run_cli("validate", "hosts/bond-vlan-bridge.ks", cwd=tmp_path)
    assert result.returncode == 2
    assert ".ksbuild.toml: unknown key 'ignor'" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_file_is_ks001_exit_2(tmp_path: Path) -> None:
    (tmp_path / "latin1.ks").write_bytes("# caf\xe9\n".encode("latin-1"))
    result = run_cli("validate", "latin1.ks", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    [finding] = json.loads(result.stdout)["inputs"][0]["findings"]
    assert finding["rule"] == "KS001" and "not UTF-8" in finding["message"]


def test_a_kickstart_that_is_a_symbolic_link_loop_is_ks001_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "loop.ks").symlink_to("loop.ks")
    result = run_cli("validate", "loop.ks", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    [finding] = json.loads(result.stdout)["inputs"][0]["findings"]
    assert finding["rule"] == "KS001" and "symbolic links" in finding["message"]
    assert "Traceback" not in result.stderr


def test_sarif_for_github_code_scanning(tmp_path: Path) -> None:
    repo_with(tmp_path, "raid1-lvm-defects.ks", "cobbler-style.ks")
    result = run_cli("validate", "--format", "sarif", "hosts/raid1-lvm-defects.ks", "hosts/cobbler-style.ks",
                     cwd=tmp_path)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [rule.id for rule in CATALOGUE]
    assert all(rule["shortDescription"]["text"] and rule["help"]["text"] for rule in rules)
    first = run["results"][0]
    assert first["ruleId"] == "KS301" and rules[first["ruleIndex"]]["id"] == "KS301"
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "hosts/raid1-lvm-defects.ks"}, "region": {"startLine": 8}}
    levels = {(r["ruleId"], r["level"]) for r in run["results"]}
    assert ("KS110", "note") in levels and ("KS501", "warning") in levels
    # A finding about a whole file is placed on its first line: code scanning needs one.
    [no_reboot] = [r for r in run["results"] if r["ruleId"] == "KS501"]
    assert no_reboot["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_rules_lists_and_explains(tmp_path: Path) -> None:
    listing = run_cli("rules", cwd=tmp_path)
    assert listing.returncode == 0
    for rule in CATALOGUE:
        assert rule.id in listing.stdout
    one = run_cli("rules", "KS201", cwd=tmp_path)
    assert one.returncode == 0
    assert "KS201 raid-members-same-disk" in one.stdout and "Example:" in one.stdout and "Fix:" in one.stdout
    family = run_cli("rules", "KS3", cwd=tmp_path)
    assert family.stdout.count("Fix:") == len([r for r in CATALOGUE if r.id.startswith("KS3")])
    assert run_cli("rules", "KS999", cwd=tmp_path).returncode == 2


def test_catalogue_ids_are_unique_and_well_formed() -> None:
    ids = [rule.id for rule in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert all(len(rule_id) == 5 and rule_id.startswith("KS") and rule_id[2:].isdigit() for rule_id in ids)
    assert all(rule.kickstart in ("error", "warning", "info") and rule.rendered in ("error", "warning", "info")
               for rule in CATALOGUE)


def test_pre_commit_hook_runs_ksbuild_validate() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    [hook] = [h for h in hooks if h["id"] == "ksbuild-validate"]
    assert hook["entry"] == "ksbuild validate"
    assert hook["language"] == "python"
    assert "cfg" in hook["files"] and "ks" in hook["files"]


def test_a_kickstart_run_imports_neither_pydantic_nor_the_profile_model_nor_requests() -> None:
    code = ("import sys\nfrom builder.cli.main import main\ntry:\n    main(['validate', sys.argv[1]])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'requests', 'jinja2') "
            "or m in ('builder.model.profile', 'builder.pipeline')))")
    result = subprocess.run([sys.executable, "-c", code, str(LINT / "liveimg-addon.ks")], capture_output=True,
                            text=True, check=False, cwd=REPO)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
