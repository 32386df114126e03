"""build: from validated specs to templates. Resolves names and references and orders the
stacks (resolve), synthesizes each stack with the kinds (synth), checks CloudFormation's and
IAM's quotas (limits) and writes generated/<stage>/ byte-stable (emit); pipeline runs it all."""
