import torch

from mlsm.models import LatentMapper, MapperConfig
from mlsm.models.blocks import ASPP, DeblockUNet


def test_aspp_uses_the_paper_dilations():
    aspp = ASPP(8)
    assert aspp.dilations == (1, 6, 12, 18)
    assert [branch.dilation for branch in aspp.branches] == [(1, 1), (6, 6), (12, 12), (18, 18)]
    assert aspp(torch.rand(1, 8, 20, 20)).shape == (1, 8, 20, 20)


def test_unet_has_two_stride2_downs_and_two_deconv_ups():
    unet = DeblockUNet(8, depth=2)
    assert len(unet.downs) == 2 and len(unet.ups) == 2
    for down in unet.downs:
        conv = down[0]
        assert conv.stride == (2, 2) and conv.padding == (1, 1) and conv.kernel_size == (3, 3)
    for up in unet.ups:
        assert isinstance(up, torch.nn.ConvTranspose2d) and up.stride == (2, 2)
    assert unet(torch.rand(1, 8, 16, 24)).shape == (1, 8, 16, 24)


def test_mapper_keeps_shape_and_uses_the_top_latent():
    mapper = LatentMapper(8, top_channels=16)
    latent, top = torch.rand(2, 8, 16, 16), torch.rand(2, 16, 4, 4)
    out = mapper(latent, top)
    assert out.shape == latent.shape
    assert not torch.allclose(out, mapper(latent, top + 1.0))   # eq. 15 depends on l^{k-1}


def test_top_level_mapper_has_no_deblocking_branch():
    mapper = LatentMapper(8, top_channels=None)
    assert not mapper.has_deblock
    assert mapper(torch.rand(1, 8, 8, 8)).shape == (1, 8, 8, 8)


def test_attention_switch():
    plain = LatentMapper(8, 16, MapperConfig(attention=False))
    attentive = LatentMapper(8, 16, MapperConfig(attention=True))
    assert sum(p.numel() for p in attentive.parameters()) > sum(p.numel() for p in plain.parameters())
    assert attentive(torch.rand(1, 8, 16, 16), torch.rand(1, 16, 4, 4)).shape == (1, 8, 16, 16)
