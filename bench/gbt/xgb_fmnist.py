#!/usr/bin/python3
"""Fashion-MNIST peer: XGBoost hist, 20 rounds, depth 6, eta 0.3, 256 bins, nthread=2."""
import gzip, numpy as np, time, xgboost as xgb
def rd(p, off):
    with gzip.open(p) as f: return np.frombuffer(f.read(), np.uint8, offset=off)
d='/usr/share/datasets/fashion-mnist/'
X=rd(d+'train-images-idx3-ubyte.gz',16).reshape(-1,784).astype(np.float32); y=rd(d+'train-labels-idx1-ubyte.gz',8)
Xt=rd(d+'t10k-images-idx3-ubyte.gz',16).reshape(-1,784).astype(np.float32); yt=rd(d+'t10k-labels-idx1-ubyte.gz',8)
t=time.time()
dm=xgb.DMatrix(X,label=y,nthread=2)
b=xgb.train(dict(tree_method='hist',max_depth=6,eta=0.3,objective='multi:softprob',num_class=10,max_bin=256,nthread=2),dm,20)
el=time.time()-t
p=b.predict(xgb.DMatrix(Xt)).argmax(1)
print('time',el,'acc',(p==yt).mean())
