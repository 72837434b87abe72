"""Video: dark, compressed clips enhanced frame by frame with one smooth brightness over time.

=========================  ===================================================================
module                     owns
=========================  ===================================================================
``mlsm.video.temporal``    the causal moving average of the output brightness, scene-cut resets
``mlsm.video.frames``      one frame through the model + smoothing; :func:`enhance_frames`
``mlsm.video.source``      opening a file with PyAV, :class:`VideoError`, :func:`is_video_file`
``mlsm.video.pipeline``    :func:`enhance_video`: decode, enhance, encode H.264, copy audio, atomically
=========================  ===================================================================

>>> import mlsm                                                             # doctest: +SKIP
>>> model = mlsm.load_model()                                               # doctest: +SKIP
>>> model.enhance_video("night.mp4", "night_bright.mp4", temporal_smoothing=1.0)  # doctest: +SKIP

Nothing here imports PyAV at import time; it is needed (``pip install 'mlsm[video]'``) when a
video is opened.
"""
from mlsm.video.frames import FrameEnhancer, enhance_frames
from mlsm.video.pipeline import DEFAULT_CRF, DEFAULT_PRESET, VideoProgress, VideoResult, enhance_video
from mlsm.video.source import VideoError, VideoInfo, is_video_file, open_video
from mlsm.video.temporal import DEFAULT_SCENE_CUT, DEFAULT_TEMPORAL_SMOOTHING, BrightnessSmoother

__all__ = ["DEFAULT_CRF", "DEFAULT_PRESET", "DEFAULT_SCENE_CUT", "DEFAULT_TEMPORAL_SMOOTHING", "FrameEnhancer",
           "BrightnessSmoother", "VideoError", "VideoInfo", "VideoProgress", "VideoResult", "enhance_frames",
           "enhance_video", "is_video_file", "open_video"]
