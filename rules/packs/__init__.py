"""Rule packs shipped with Trygg (YAML files; see docs/rules.md)."""
