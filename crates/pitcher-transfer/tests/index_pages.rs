//! parse_index_page on hand-written samples of the common autoindex styles.

use std::time::{Duration, SystemTime};

use pitcher_transfer::{IndexEntry, parse_index_page};

fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Option<SystemTime> {
    let dt = jiff::civil::date(y, mo, d).at(h, mi, 0, 0);
    let ts = jiff::tz::TimeZone::UTC.to_timestamp(dt).expect("timestamp");
    Some(SystemTime::from(ts))
}

fn entry(name: &str, is_dir: bool, size: Option<u64>, mtime: Option<SystemTime>) -> IndexEntry {
    IndexEntry {
        name: name.into(),
        is_dir,
        size,
        mtime,
    }
}

#[test]
fn apache_classic_pre() {
    let page = r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /20230113/WXO-DD/ensemble/reps</title>
 </head>
 <body>
<h1>Index of /20230113/WXO-DD/ensemble/reps</h1>
<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>                                                                 <a href="?C=M;O=A">Last modified</a>      <a href="?C=S;O=A">Size</a>  <a href="?C=D;O=A">Description</a><hr><img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/20230113/WXO-DD/ensemble/">Parent Directory</a>                                                                          -   
<img src="/icons/folder.gif" alt="[DIR]"> <a href="10km/">10km/</a>                                                                            2023-01-13 00:45    -   
<img src="/icons/unknown.gif" alt="[   ]"> <a href="20230113T00Z_MSC_REPS_HGT_ISBL-0850_RLatLon0.09x0.09_PT000H.grib2">20230113T00Z_MSC_REPS_HGT_ISBL-0850_RLatLon0.09x0.09_PT000H.grib2</a>   2023-01-13 03:49  5.2M  
<img src="/icons/text.gif" alt="[TXT]"> <a href="README.txt">README.txt</a>                                                                       2023-01-12 23:58  812   
<img src="/icons/unknown.gif" alt="[   ]"> <a href="./a:b.dat">a:b.dat</a>                                                                          2023-01-12 23:59  0   
<img src="/icons/unknown.gif" alt="[   ]"> <a href="with%20space%20%26%20amp.txt">with space &amp; amp.txt</a>                                                         13-Jan-2023 01:02  1.0K  
<hr></pre>
<address>Apache/2.4.57 (Debian) Server at example Port 80</address>
</body></html>
"#;
    assert_eq!(
        parse_index_page(page),
        vec![
            entry("10km", true, None, utc(2023, 1, 13, 0, 45)),
            entry(
                "20230113T00Z_MSC_REPS_HGT_ISBL-0850_RLatLon0.09x0.09_PT000H.grib2",
                false,
                None, // "5.2M" is rounded: no size rather than a wrong one
                utc(2023, 1, 13, 3, 49)
            ),
            entry("README.txt", false, Some(812), utc(2023, 1, 12, 23, 58)),
            entry("a:b.dat", false, Some(0), utc(2023, 1, 12, 23, 59)),
            entry("with space & amp.txt", false, None, utc(2023, 1, 13, 1, 2)),
        ]
    );
}

#[test]
fn apache_html_table() {
    let page = r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /pub</title>
 </head>
 <body>
<h1>Index of /pub</h1>
  <table>
   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
   <tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="data/">data/</a></td><td align="right">2024-06-03 15:42  </td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/compressed.gif" alt="[   ]"></td><td><a href="dump.tar.gz">dump.tar.gz</a></td><td align="right">2024-06-03 15:40  </td><td align="right">549872</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="notes.txt">notes.txt</a></td><td align="right">2024-06-01 08:00  </td><td align="right"> 47K</td><td>&nbsp;</td></tr>
   <tr><th colspan="5"><hr></th></tr>
</table>
<address>Apache Server at example Port 80</address>
</body></html>
"#;
    assert_eq!(
        parse_index_page(page),
        vec![
            entry("data", true, None, utc(2024, 6, 3, 15, 42)),
            entry("dump.tar.gz", false, Some(549_872), utc(2024, 6, 3, 15, 40)),
            entry("notes.txt", false, None, utc(2024, 6, 1, 8, 0)),
        ]
    );
}

#[test]
fn nginx_autoindex() {
    let page = r#"<html>
<head><title>Index of /suominet/nrt/ncConus/y2023/</title></head>
<body>
<h1>Index of /suominet/nrt/ncConus/y2023/</h1><hr><pre><a href="../">../</a>
<a href="d011/">d011/</a>                                              11-Jan-2023 23:58                   -
<a href="CsuPWVh_2023.011.22.00.0060_nc">CsuPWVh_2023.011.22.00.0060_nc</a>                     11-Jan-2023 23:58               47104
<a href="a%20very%20long%20file%20name%20that%20nginx%20truncates.txt">a very long file name that nginx truncat..&gt;</a> 12-Jan-2023 00:01                  12
<a href="caf%C3%A9.txt">café.txt</a>                                           12-Jan-2023 00:02                   3
</pre><hr></body>
</html>
"#;
    assert_eq!(
        parse_index_page(page),
        vec![
            entry("d011", true, None, utc(2023, 1, 11, 23, 58)),
            entry(
                "CsuPWVh_2023.011.22.00.0060_nc",
                false,
                Some(47_104),
                utc(2023, 1, 11, 23, 58)
            ),
            entry(
                "a very long file name that nginx truncates.txt",
                false,
                Some(12),
                utc(2023, 1, 12, 0, 1)
            ),
            entry("café.txt", false, Some(3), utc(2023, 1, 12, 0, 2)),
        ]
    );
}

#[test]
fn pitcher_page_with_exact_attributes() {
    let page = r#"<pre>Name        Last modified     Size<hr><a href="/">Parent Directory</a>                  -
<a href="f.bin" data-size="123456789" data-mtime="2026-11-22T10:15:33.25Z">f.bin</a>   2026-11-22 10:15  123456789
<a href="d/" data-mtime="2026-11-22T10:15:00Z">d/</a>       2026-11-22 10:15          -
<hr></pre>"#;
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_342_533_250);
    assert_eq!(
        parse_index_page(page),
        vec![
            entry("f.bin", false, Some(123_456_789), Some(t)),
            entry("d", true, None, utc(2026, 11, 22, 10, 15)),
        ]
    );
}

#[test]
fn garbage_gives_nothing_and_never_panics() {
    assert!(parse_index_page("").is_empty());
    assert!(parse_index_page("<html><body>no links</body></html>").is_empty());
    assert!(parse_index_page("<a href=").is_empty());
    let odd = parse_index_page("<a href=x>x</a> 2023-99-99 99:99 12");
    assert_eq!(odd, vec![entry("x", false, None, None)]);
}
