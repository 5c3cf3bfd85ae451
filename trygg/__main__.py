from trygg.cli import app

app(prog_name="trygg")
