"""Job stores: where jobs are kept between runs."""
