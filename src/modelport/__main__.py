from modelport.interfaces.cli.main import run

run()
