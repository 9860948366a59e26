from workstation.cli import run

run()
