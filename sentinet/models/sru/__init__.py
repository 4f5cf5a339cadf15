"""SRU (Lei et al. 2018): the encoder, its fused CPU kernel and its Triton kernel."""
