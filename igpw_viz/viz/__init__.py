"""Pictures of the method: wiring graphs (networkx), drawings of one layer and of the whole network
(matplotlib; every function takes ``ax=None`` and returns what it drew on), and ipywidgets explorers."""
