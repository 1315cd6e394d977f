//! `asma`: parses arguments and calls the libraries; nothing else.

fn main() {}
