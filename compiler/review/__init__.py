"""review: what a change does. Compares two sets of generated templates, or generated/ with
what is deployed, resource by resource (diff, access, updates), renders the verdicts (diff_render)
and decides whether a risky change was approved for its commit (approval)."""
