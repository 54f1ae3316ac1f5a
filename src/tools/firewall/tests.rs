use super::*;

#[test]
fn addresses_and_ports() {
    for ok in [
        "10.0.0.1",
        "10.0.0.0/24",
        "fd00::/8",
        "10.0.0.1-10.0.0.9",
        "10.0.0.1,10.0.0.0/8",
        "+management",
        "+dc/office",
        "local_network",
        "guest/web",
    ] {
        assert!(valid_addr_spec(ok), "{ok}");
    }
    for bad in [
        "10.0.0.0/33",
        "10.0.0.300",
        "fd00::/129",
        "10.0.0.1-fd00::1",
        "+",
        "1abc",
        "10.0.0.0/24;rm",
        "",
    ] {
        assert!(!valid_addr_spec(bad), "{bad}");
    }
    for ok in ["22", "80,443", "8000:9000", "https", "0"] {
        assert!(valid_ports(ok), "{ok}");
    }
    for bad in ["", "70000", "90:80", "22;", "a b"] {
        assert!(!valid_ports(bad), "{bad}");
    }
}
