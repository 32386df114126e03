"""spec: the front end. Reads the YAML files of spec/ (load: safe YAML with positions),
validates them against platform.yaml and each kind's model for every stage (validate, stage,
credentials), and hands `StageSpec`s to build; scaffold writes a new service's spec files."""
