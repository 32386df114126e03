"""gates: the CI checks over generated/. cfn-lint and the policy rules of rules/ (lint, with
SARIF output in sarif) and checkov with the spec's waivers (security); each reads the
templates and the manifest and reports findings, never changes them."""
