from symbi_cron.cli.table import display_width, format_table


def test_columns_align_under_headers():
    text = format_table([["a", 1], ["long name", 22]], ["NAME", "N"], align=["left", "right"])
    assert text.splitlines() == [
        "NAME        N",
        "---------  --",
        "a           1",
        "long name  22",
    ]


def test_wide_characters_and_newlines():
    assert display_width("日本") == 4 and display_width("é") == 1 and display_width("e\u0301") == 1
    lines = format_table([["日本", "x\ny"]], ["A", "B"]).splitlines()
    assert lines[2] == "日本  x y"
