from strangler_playbook.cli import data

data(prog_name="strangler data")
