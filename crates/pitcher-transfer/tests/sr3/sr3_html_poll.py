"""Reads an index page from stdin the way sr3's HTTP poll does (flowcb/poll/__init__.py,
handle_starttag/handle_data as described in sr3-reference.md section 2.6), and prints one line per
entry: name, kind, mtime (epoch, UTC) -- or exits 1 if the page makes that logic raise (sr3 then
loses the whole directory listing).

The logic, restated: the href of any tag becomes the pending name; text equal to the pending name
is skipped; any other text must split into exactly three words "date time size", where the date
and time are '%d-%b-%Y %H:%M' or else '%Y-%m-%d %H:%M' (an exception otherwise); a name ending in
'/' is a directory; after three words, or any other text, the pending name is cleared.
"""
import calendar
import html.parser
import sys
import time


class Sr3Like(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.pending = None
        self.entries = {}

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "href":
                self.pending = value.strip().strip("\t")

    def handle_data(self, data):
        if self.pending is None or self.pending == data:
            return
        words = data.split()
        if len(words) != 3:
            self.pending = None
            return
        stamp = words[0] + " " + words[1]
        try:
            t = time.strptime(stamp, "%d-%b-%Y %H:%M")
        except ValueError:
            t = time.strptime(stamp, "%Y-%m-%d %H:%M")
        kind = "dir" if self.pending.endswith("/") else "file"
        # sr3 uses time.mktime (local time); UTC here so the result does not depend on TZ.
        self.entries[self.pending] = (kind, calendar.timegm(t))
        self.pending = None


def main():
    parser = Sr3Like()
    try:
        parser.feed(sys.stdin.read())
        parser.close()
    except Exception as e:  # what sr3's lsdir would catch: the whole listing is lost
        print("RAISED", repr(e))
        sys.exit(1)
    for name, (kind, mtime) in parser.entries.items():
        print(f"{name}\t{kind}\t{mtime}")


main()
