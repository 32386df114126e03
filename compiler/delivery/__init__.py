"""delivery: generated/ onto AWS. Packages the handlers (package), deploys the stacks in
order through change sets (deploy, lifecycle), moves function aliases (versions), reports
(deploy_summary) and checks for drift (drift); it reads generated/ and talks to boto3."""
