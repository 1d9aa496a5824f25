"""One generated page per rule in policies/docs/, linked from the README catalogue; a stale, missing or orphan page
fails (regenerate with `python -m policies.catalogue --write README.md`)."""

from __future__ import annotations

from core.paths import ROOT_DIR
from policies import catalogue
from policies.rules import RULES

REGENERATE = "run: python -m policies.catalogue --write README.md"


def test_every_rule_has_a_current_page_and_no_page_is_orphaned():
    wanted = catalogue.pages()
    on_disk = {path.name: path.read_text() for path in catalogue.DOCS_DIR.glob("*.md")}
    assert sorted(set(wanted) - set(on_disk)) == [], f"missing pages; {REGENERATE}"
    assert sorted(set(on_disk) - set(wanted)) == [], f"pages of no rule; {REGENERATE}"
    assert [name for name in wanted if wanted[name] != on_disk[name]] == [], f"stale pages; {REGENERATE}"


def test_the_catalogue_links_every_rule_to_its_page():
    readme = (ROOT_DIR / "README.md").read_text()
    for rule in RULES:
        assert f"| [`{rule.name}`](policies/docs/{rule.name}.md) |" in readme, rule.name


def test_a_page_shows_the_tested_cases_levels_and_references():
    text = catalogue.pages()["storage-https-only.md"]
    assert "passes with `enableHttpsTrafficOnly: true`; fails with `enableHttpsTrafficOnly: false`" in text
    assert '"enableHttpsTrafficOnly is false; it must be true"' in text
    assert "[Azure.Storage.SecureTransfer](https://azure.github.io/PSRule.Rules.Azure/en/rules/Azure.Storage.SecureTransfer/)" in text
    locked = catalogue.pages()["stateful-resources-locked.md"]
    assert "| dev | mandatory | `required: false` |" in locked and "| prod | mandatory | `required: true` |" in locked
    assert "\"Vault 'vault-kv' has no CanNotDelete lock scoped to it\"" in locked


def test_the_writer_adds_missing_pages_rewrites_stale_ones_and_removes_orphans(tmp_path):
    (tmp_path / "no-such-rule.md").write_text("old")
    (tmp_path / "storage-https-only.md").write_text("stale")
    catalogue.write_pages(tmp_path)
    assert {path.name for path in tmp_path.glob("*.md")} == {f"{rule.name}.md" for rule in RULES}
    assert (tmp_path / "storage-https-only.md").read_text() == catalogue.pages()["storage-https-only.md"]
