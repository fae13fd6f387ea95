//! The built-in rule sets. Patterns run on decoded, case-folded text (see
//! [`super::decode`]), so they are written in lower case.
//!
//! Scores follow the usual anomaly-scoring scale: 5 critical, 4 error,
//! 3 warning, 2 notice. Paranoia 1 holds rules precise enough for ordinary
//! prose, JSON and URLs; higher levels add broader rules that catch more and
//! misfire more.

/// The family of attack a rule detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal and local file inclusion.
    Traversal,
    /// OS command injection and remote code execution.
    Rce,
    /// Log4Shell-style JNDI lookups.
    Log4j,
    /// Shellshock (`() {` function definitions in variables).
    Shellshock,
    /// Server-side request forgery towards cloud metadata endpoints.
    Ssrf,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 7] = [
        Category::Sqli,
        Category::Xss,
        Category::Traversal,
        Category::Rce,
        Category::Log4j,
        Category::Shellshock,
        Category::Ssrf,
    ];

    /// The name used in corpus files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sqli => "sqli",
            Category::Xss => "xss",
            Category::Traversal => "traversal",
            Category::Rce => "rce",
            Category::Log4j => "log4j",
            Category::Shellshock => "shellshock",
            Category::Ssrf => "ssrf",
        }
    }

    /// The category named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// How a rule recognises an attack.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Matcher {
    /// A regular expression on the decoded text.
    Regex(&'static str),
    /// A small hand-written check (e.g. numeric IP forms).
    Check(fn(&str) -> bool),
}

/// One built-in rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, used in exclusions and logs.
    pub id: u32,
    /// What it detects.
    pub category: Category,
    /// Lowest paranoia level at which it runs (1-4).
    pub paranoia: u8,
    /// Anomaly score it adds when it matches.
    pub score: u32,
    pub(crate) matcher: Matcher,
}

const fn re(id: u32, category: Category, paranoia: u8, score: u32, p: &'static str) -> Rule {
    Rule {
        id,
        category,
        paranoia,
        score,
        matcher: Matcher::Regex(p),
    }
}

use Category::*;

/// Shell commands worth noticing after a command separator.
macro_rules! cmds {
    () => {
        r"(?:cat|tac|more|less|head|tail|ls|dir|id|whoami|uname|hostname|ifconfig|ipconfig|netstat|ps|env|printenv|wget|curl|nc|ncat|netcat|telnet|bash|sh|zsh|ksh|dash|python[23]?|perl|ruby|php|lua|node|powershell|pwsh|cmd|ping|nslookup|dig|sleep|echo|rm|chmod|chown|kill|pkill|busybox|base64|xxd|awk|sed|find|touch|mkfifo|crontab|systeminfo|tasklist|net|reg|certutil|bitsadmin)"
    };
}

/// Every built-in rule.
pub static RULES: &[Rule] = &[
    // ---- SQL injection -------------------------------------------------
    re(
        942100,
        Sqli,
        1,
        5,
        r#"['"`]\s*\)*\s*(?:or|and|xor|\|\||&&)\s*\(*\s*['"`]?[\w.@]*['"`]?\s*(?:=|<=>|<>|!=|<|>|\blike\b|\bis\s+(?:not\s+)?null\b|\bregexp\b|\bbetween\b|\bin\s*\()"#,
    ),
    re(
        942110,
        Sqli,
        1,
        5,
        r"\b(?:or|and|having|where)\s+\(?\s*\d+\s*(?:=|<>|!=)\s*\d+",
    ),
    re(
        942120,
        Sqli,
        1,
        5,
        r"\bunion\b[\s(]+(?:all\s+|distinct\s+)?\(*\s*select\b",
    ),
    re(
        942130,
        Sqli,
        1,
        5,
        r#"['"`)\d]\s*;\s*(?:drop|truncate|alter|create|delete|insert|update|select|exec|execute|declare|shutdown|waitfor)\b"#,
    ),
    re(
        942140,
        Sqli,
        1,
        5,
        r"\b(?:sleep|pg_sleep|benchmark)\s*\(\s*[\d(]|\bwaitfor\s+delay\s+'|\bdbms_pipe\.receive_message\b|\bdbms_lock\.sleep\b",
    ),
    re(
        942150,
        Sqli,
        1,
        5,
        r"\binformation_schema\b|\bmysql\.user\b|\bsysobjects\b|\bsyscolumns\b|\bpg_catalog\b|\bpg_shadow\b|\bsqlite_master\b|\ball_tables\b|@@version\b|\bxp_cmdshell\b|\bsp_executesql\b",
    ),
    re(
        942160,
        Sqli,
        1,
        5,
        r"\b(?:load_file|extractvalue|updatexml|group_concat|make_set|exp\s*\(\s*~)\s*\(|\binto\s+(?:out|dump)file\b",
    ),
    re(942170, Sqli, 1, 5, r#"\w['"`]\s*\)*\s*(?:--[\s+-]*|#\s*)$"#),
    re(
        942180,
        Sqli,
        1,
        5,
        r"\b(?:drop|truncate|alter)\s+(?:table|database|schema)\s+[\w`]|\binsert\s+into\s+[\w`.]+\s*(?:\(|values\b|select\b)|\bdelete\s+from\s+[\w`.]+\s+where\b|\bupdate\s+[\w`.]+\s+set\s+[\w`]+\s*=",
    ),
    re(
        942190,
        Sqli,
        1,
        5,
        r#"['"`]\s*\)*\s*(?:order|group)\s+by\s+\d|\border\s+by\s+\d+\s*(?:--|#)"#,
    ),
    re(
        942200,
        Sqli,
        1,
        5,
        r#"['"`]\s*\)*\s*(?:and|or)\s+\(*\s*(?:select|sleep|ascii|substring|substr|length|char|exists|if|case)\b\s*\(?|['"`]\s*\)*\s*(?:rlike|regexp|like|and|or|=|<>|<|>)\s*\(\s*select\b"#,
    ),
    re(
        942210,
        Sqli,
        2,
        5,
        r"\bselect\b[\s(]+[\w*@,.'`()\s]+?\bfrom\b\s+[\w`.]+",
    ),
    re(
        942220,
        Sqli,
        2,
        3,
        r#"['"]\s*\)*\s*(?:union|select|having|;|--|#|/\*)"#,
    ),
    re(
        942230,
        Sqli,
        2,
        3,
        r"\b(?:char|chr|concat|ascii|hex|unhex|cast|convert)\s*\(\s*[\d'@]",
    ),
    re(
        942240,
        Sqli,
        3,
        3,
        r"\b(?:select|union|insert|update|delete|drop)\b",
    ),
    // ---- XSS ----------------------------------------------------------
    re(941100, Xss, 1, 5, r"<\s*/?\s*script\b"),
    re(
        941110,
        Xss,
        1,
        5,
        r"<[a-z][^>]*?[\s/'\x22]on[a-z]{3,25}\s*=",
    ),
    re(
        941120,
        Xss,
        1,
        5,
        r#"['"](?:[^<>'"]*?[\s/])?\s*on(?:error|load|mouse\w+|focus|blur|click|dblclick|key\w+|submit|change|input|toggle|animation\w+|transition\w+|begin|end|pointer\w+|wheel|drag\w*|copy|paste|scroll|start)\s*="#,
    ),
    re(
        941130,
        Xss,
        1,
        5,
        r"(?:java|vb|live)\s*script\s*:[^\s]*[(`=]|(?:href|src|action|formaction|xlink:href|data|background|poster)\s*=\s*['\x22]?\s*(?:java|vb)\s*script\s*:",
    ),
    re(
        941140,
        Xss,
        1,
        5,
        r"<\s*(?:iframe|frame|frameset|object|embed|applet|base|meta|svg|math|isindex|xss)\b",
    ),
    re(
        941150,
        Xss,
        1,
        5,
        r"\bdocument\s*\.\s*(?:cookie|domain|write|location)\b|\bwindow\s*\.\s*location\b|\.innerhtml\s*=|\bfromcharcode\s*\(|\bsrcdoc\s*=|\bdata:text/html\b",
    ),
    re(
        941160,
        Xss,
        1,
        5,
        r"<[a-z][^>]*\b(?:style\s*=[^>]*expression\s*\(|formaction\s*=)",
    ),
    re(
        941170,
        Xss,
        2,
        3,
        r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval)\s*(?:\(|`)",
    ),
    re(
        941180,
        Xss,
        2,
        3,
        r"<\s*(?:img|style|link|form|input|video|audio|body|details|marquee|select|textarea|button|a)\b[^>]*>?",
    ),
    re(941190, Xss, 3, 3, r"<[a-z!/?]"),
    // ---- Path traversal / LFI -----------------------------------------
    re(
        930100,
        Traversal,
        1,
        5,
        r"(?:\.\.;?[/\\]){2}|\.\.[/\\][^/\\]*\.\.[/\\]",
    ),
    re(930110, Traversal, 1, 3, r"(?:^|[/\\=])\.\.(?:[/\\;]|$)"),
    re(
        930120,
        Traversal,
        1,
        5,
        r"/etc/(?:passwd|shadow|group|hosts|issue|sudoers|crontab)\b|/proc/(?:self|\d+)/(?:environ|cmdline|fd|maps|mem|status)\b|\b(?:boot|win|system)\.ini\b|[/\\]system32[/\\]|/\.ssh/|\bid_rsa\b|\.ht(?:access|passwd)\b|\bweb\.config\b|\bwp-config\.php\b|/var/log/[\w.-]+\.log\b",
    ),
    re(
        930130,
        Traversal,
        1,
        5,
        r"\b(?:php|phar|zip|expect|glob|jar|file|gopher|dict|tftp|ldap)://",
    ),
    re(930140, Traversal, 1, 3, r"\x00"),
    re(
        930150,
        Traversal,
        2,
        3,
        r"(?:^|[/\\])\.\.(?:[/\\]|$)|^/(?:etc|proc|var|root|home|usr|bin|tmp)/",
    ),
    // ---- Command injection / RCE --------------------------------------
    re(
        932100,
        Rce,
        1,
        5,
        concat!(
            r"(?:[;|&`]|\$\()\s*",
            cmds!(),
            r#"(?:\.exe)?(?:\s+[-/~.$\d'"\\%]|\s*$|\s*[;|&`)])|\n\s*"#,
            cmds!(),
            r#"(?:\.exe)?(?:\s+[-/~.$'"\\%]|\s*$|\s*[;|&`)])"#
        ),
    ),
    re(
        932110,
        Rce,
        1,
        5,
        concat!(r"\$\(\s*", cmds!(), r"\b|`\s*", cmds!(), r"\b[^`]*`"),
    ),
    re(
        932120,
        Rce,
        1,
        5,
        r"\$\{?ifs\b|/dev/(?:tcp|udp)/|\b(?:ba)?sh\s+-[ic]\b|\bnc(?:at)?\s+(?:-\w+\s+)*-[ec]\b|(?:^|[\s;|&/])(?:/usr)?/bin/(?:ba|z|k|c|tc|da)?sh\b|\bcmd(?:\.exe)?\s+/[ck]\b|\bpowershell(?:\.exe)?\s+-(?:e|enc|encodedcommand|nop|noprofile|w|c|command|exec)\b",
    ),
    re(
        932130,
        Rce,
        1,
        5,
        r"\b(?:curl|wget)\s+[^|;]*\|\s*(?:ba|z)?sh\b|\b(?:python[23]?|perl|ruby|php)\s+-[ce]\s+['\x22]|\bruntime\.getruntime\(\)\.exec\b|\bsystem\s*\(\s*['\x22]|(?:[;|&\n`]|\$\()\s*(?:wget|curl)\s|\bchmod\s+(?:[+0-7]|u\+)|\b(?:passthru|shell_exec|proc_open|popen|pcntl_exec)\s*\(",
    ),
    re(932140, Rce, 2, 3, r"[;|&`]\s*\w+\s+-\w|\$\(|\|\|?\s*\w+"),
    re(932150, Rce, 3, 3, concat!(r"\b", cmds!(), r"\b\s+-\w")),
    // ---- Log4Shell ----------------------------------------------------
    re(
        944100,
        Log4j,
        1,
        5,
        r"\$\{\s*jndi\s*:|\$\{[^}]{0,80}\$\{|\$\{\s*(?:jndi|env|sys|java|lower|upper|base64|ctx|main|date|bundle|marker|sd|map|log4j|spring|k8s|docker|web|event)\s*:",
    ),
    re(
        944110,
        Log4j,
        1,
        5,
        r"\bjndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|http)s?\s*:",
    ),
    re(944120, Log4j, 2, 3, r"\$\{[a-z:]+[^}]*\}"),
    // ---- Shellshock ---------------------------------------------------
    re(
        944200,
        Shellshock,
        1,
        5,
        r"^\s*\(\s*\)\s*\{|\(\s*\)\s*\{\s*:?\s*;\s*\}\s*;",
    ),
    re(944210, Shellshock, 2, 3, r"\(\s*\)\s*\{[^}]*\}\s*;"),
    // ---- SSRF towards metadata ----------------------------------------
    re(
        934100,
        Ssrf,
        1,
        5,
        r"\b169\.254\.169\.254\b|\b169\.254\.170\.2\b|\bmetadata\.google\.internal\b|\bmetadata\.azure\.internal\b|\bfd00:ec2::254\b|\b100\.100\.100\.200\b|\binstance-data(?:\.ec2\.internal)?\b|/latest/(?:meta-data|user-data|api/token)\b|/computemetadata/v1\b|/metadata/(?:instance|identity)\b",
    ),
    Rule {
        id: 934110,
        category: Ssrf,
        paranoia: 1,
        score: 5,
        matcher: Matcher::Check(url_host_is_link_local),
    },
    re(
        934120,
        Ssrf,
        2,
        3,
        r"\b(?:https?|gopher|dict|ftp)://(?:[^/@]*@)?(?:localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1?\]|\[::ffff:[^\]]+\])",
    ),
];

/// Whether a URL in `s` names a link-local (169.254.0.0/16) or metadata host
/// in a disguised form: decimal (`2852039166`), hex (`0xa9fea9fe`), octal or
/// mixed dotted parts, or an IPv4-mapped IPv6 address.
fn url_host_is_link_local(s: &str) -> bool {
    let mut rest = s;
    while let Some(pos) = rest.find("://") {
        let after = &rest[pos + 3..];
        let authority = after.split(['/', '?', '#', ' ', '\\']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or(authority);
        if host_is_link_local(host) {
            return true;
        }
        rest = after;
    }
    false
}

fn host_is_link_local(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[') {
        let v6 = v6.split(']').next().unwrap_or(v6);
        if let Ok(ip) = v6.parse::<std::net::Ipv6Addr>() {
            return ip
                .to_ipv4_mapped()
                .is_some_and(|v4| v4.octets()[..2] == [169, 254])
                || ip.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254];
        }
        return false;
    }
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    inet_aton(host).is_some_and(|ip| ip >> 16 == 0xa9fe)
}

/// The classic `inet_aton` reading: 1 to 4 parts, each decimal, `0x` hex or
/// `0` octal; the last part fills the remaining bytes.
fn inet_aton(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.trim_end_matches('.').split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let n = if let Some(h) = p.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    let mut ip: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        if *n > 255 {
            return None;
        }
        ip |= n << (24 - 8 * i);
    }
    let room = 32 - 8 * head.len() as u32;
    if *last >= 1u64 << room {
        return None;
    }
    u32::try_from(ip | last).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_levels_valid() {
        let mut ids: Vec<u32> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        assert!(RULES.iter().all(|r| (1..=4).contains(&r.paranoia)));
    }

    #[test]
    fn numeric_hosts() {
        for s in [
            "http://2852039166/latest",
            "http://0xa9fea9fe/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://user@2852039166:80/x",
        ] {
            assert!(url_host_is_link_local(s), "{s}");
        }
        for s in [
            "http://example.com/",
            "http://10.0.0.1/",
            "no url here 2852039166",
        ] {
            assert!(!url_host_is_link_local(s), "{s}");
        }
    }
}
